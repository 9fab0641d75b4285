package openrpc

// MaxDocumentDepth bounds how deeply arrays and objects nest in a document
// Parse reads: room for schemas nested MaxSchemaDepth deep (two levels
// each, as in "properties":{"name":{...}}) and the document around them.
const MaxDocumentDepth = 4*MaxSchemaDepth + 16

// tooDeep reports whether data nests arrays and objects deeper than max
// (brackets inside strings do not count), in one pass over data.
func tooDeep(data []byte, max int) bool {
	depth, inString, escaped := 0, false, false
	for _, b := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			if depth++; depth > max {
				return true
			}
		case b == '}' || b == ']':
			depth--
		}
	}
	return false
}
