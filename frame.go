package wsrpc

//go:generate go tool easyjson -no_std_marshalers -output_filename frame_easyjson.go frame.go

import (
	"github.com/mailru/easyjson"
)

// frame is one decoded wsrpc message. Every member is kept as raw JSON so the
// engine can decode params and results only once the target type is known.
// An absent member and a member whose value is null both decode to nil.
//
// The slices alias the buffer the frame was decoded from: copy what must
// outlive that buffer.
//
//easyjson:json
type frame struct {
	ID     easyjson.RawMessage `json:"id"`
	Method easyjson.RawMessage `json:"method"`
	Params easyjson.RawMessage `json:"params"`
	Result easyjson.RawMessage `json:"result"`
	Error  easyjson.RawMessage `json:"error"`
}

// wireError is the error member of a reply as the reference sends it.
//
//easyjson:json
type wireError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}
