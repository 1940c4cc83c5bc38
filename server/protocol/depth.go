package protocol

// MaxJSONDepth bounds how deeply the JSON a client sends — a frame or an
// HTTP body — may nest objects and arrays. The deepest legitimate input is
// two levels ({"since":{...}}); the bound refuses pathological nesting
// before a decoder spends work on it.
const MaxJSONDepth = 16

// CheckDepth returns a bad_request error when the JSON text b nests objects
// and arrays deeper than max. It does not otherwise validate b (the decoder
// does); brackets inside strings, escaped quotes included, do not count.
// It runs in one pass without allocating.
func CheckDepth(b []byte, max int) error {
	depth := 0
	inString, escaped := false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if depth++; depth > max {
				return Errorf(CodeBadRequest, "JSON nests deeper than %d levels", max)
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}
