// Package openrpc holds the OpenRPC 1.3 document a wsrpc peer serves as
// rpc.discover (see the discovery module, github.com/wsrpc/wsrpc-go/discovery,
// which makes it), in types both the maker and its readers (the wsrpc
// command's describe and gen) use. It only parses and writes JSON; it does
// not reflect Go types.
//
// The document follows OpenRPC 1.3.2 (https://spec.open-rpc.org/), with
// these wsrpc conventions:
//
//   - A method's params are by-name (a Go struct: one content descriptor per
//     JSON key, required as the route enforces it) or by-position (one per
//     parameter, named arg1, arg2, ...). The extension "x-wsrpc-params" holds
//     the JSON Schema of the params value as a whole: an object schema
//     (additionalProperties false: an unknown key is a TypeError), an array
//     schema for positional params, an object of any keys for a map; it is
//     absent for a method without params.
//   - Each error object has the wsrpc error type (Error.Type, such as
//     TypeError) as its message and in data.type; the code is -32602 for
//     TypeError, -32601 for NotImplementedError and -32000 for the others.
//   - The extension "x-wsrpc-peer-methods" lists the methods this side calls
//     on its peer, which the peer must expose (a server's description of the
//     browser page's routes, say).
//   - Schemas shared by several methods are in components.schemas, referred
//     to as "#/components/schemas/Name".
package openrpc

import "encoding/json"

// Version is the OpenRPC version documents are written in.
const Version = "1.3.2"

// MethodName is the name of the discovery method.
const MethodName = "rpc.discover"

// Document is an OpenRPC document.
type Document struct {
	OpenRPC    string      `json:"openrpc"`
	Info       Info        `json:"info"`
	Methods    []Method    `json:"methods"`
	Components *Components `json:"components,omitempty"`
	// PeerMethods are the methods this side calls on its peer.
	PeerMethods []Method `json:"x-wsrpc-peer-methods,omitempty"`
}

// Info describes the API.
type Info struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Version     string `json:"version"`
}

// Parameter structures of Method.ParamStructure.
const (
	ByName     = "by-name"
	ByPosition = "by-position"
	Either     = "either"
)

// Method is one method a peer answers.
type Method struct {
	Name           string              `json:"name"`
	Description    string              `json:"description,omitempty"`
	ParamStructure string              `json:"paramStructure,omitempty"`
	Params         []ContentDescriptor `json:"params"`
	Result         *ContentDescriptor  `json:"result,omitempty"`
	Errors         []Error             `json:"errors,omitempty"`
	// ParamsSchema is the JSON Schema of the whole params value.
	ParamsSchema json.RawMessage `json:"x-wsrpc-params,omitempty"`
}

// ContentDescriptor is one param or a result.
type ContentDescriptor struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Required    bool            `json:"required,omitempty"`
	Schema      json.RawMessage `json:"schema"`
}

// Error is an error a method may answer.
type Error struct {
	Code    int        `json:"code"`
	Message string     `json:"message"`
	Data    *ErrorData `json:"data,omitempty"`
}

// ErrorData carries the wsrpc error type.
type ErrorData struct {
	Type string `json:"type"`
}

// Type returns the wsrpc error type: data.type, else the message.
func (e Error) Type() string {
	if e.Data != nil && e.Data.Type != "" {
		return e.Data.Type
	}
	return e.Message
}

// Error codes the document gives wsrpc error types (ErrorCode).
const (
	CodeInvalidParams  = -32602 // TypeError
	CodeMethodNotFound = -32601 // NotImplementedError
	CodeServerError    = -32000 // any other type
)

// ErrorCode returns the code a document gives the wsrpc error type typ.
func ErrorCode(typ string) int {
	switch typ {
	case "TypeError":
		return CodeInvalidParams
	case "NotImplementedError":
		return CodeMethodNotFound
	}
	return CodeServerError
}

// Components holds the schemas methods refer to.
type Components struct {
	Schemas map[string]json.RawMessage `json:"schemas,omitempty"`
}

// SchemaRefPrefix begins every reference to a component schema.
const SchemaRefPrefix = "#/components/schemas/"
