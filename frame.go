package wsrpc

//go:generate go tool easyjson -no_std_marshalers -output_filename frame_easyjson.go frame.go

import (
	"github.com/mailru/easyjson"
	"github.com/mailru/easyjson/jlexer"
)

// frame is one decoded wsrpc message. Every member is kept as raw JSON so the
// engine can decode params and results only once the target type is known.
// An absent member and a member whose value is null both decode to nil,
// except "method": a null method is kept as the bytes null, because a member
// "method" makes a call whatever its value (PROTOCOL §4.1), and a call gets a
// reply.
//
// The slices alias the buffer the frame was decoded from: copy what must
// outlive that buffer.
type frame struct {
	ID     easyjson.RawMessage
	Method easyjson.RawMessage
	Params easyjson.RawMessage
	Result easyjson.RawMessage
	Error  easyjson.RawMessage
}

// UnmarshalEasyJSON decodes a message object into f. Unknown members are
// skipped; a repeated member keeps its last value.
func (f *frame) UnmarshalEasyJSON(in *jlexer.Lexer) {
	top := in.IsStart()
	if in.IsNull() {
		in.Skip()
		if top {
			in.Consumed()
		}
		return
	}
	in.Delim('{')
	for !in.IsDelim('}') {
		key := in.UnsafeFieldName(false)
		in.WantColon()
		var dst *easyjson.RawMessage
		switch key {
		case "id":
			dst = &f.ID
		case "method":
			dst = &f.Method
		case "params":
			dst = &f.Params
		case "result":
			dst = &f.Result
		case "error":
			dst = &f.Error
		}
		switch {
		case dst == nil:
			in.SkipRecursive()
		case in.IsNull() && key != "method":
			in.Skip()
			*dst = nil
		default:
			*dst = in.Raw() // a null method is the bytes null of the message
		}
		in.WantComma()
	}
	in.Delim('}')
	if top {
		in.Consumed()
	}
}

// wireError is the error member of a reply as the reference sends it.
//
//easyjson:json
type wireError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}
