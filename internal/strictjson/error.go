package strictjson

import (
	"fmt"
	"strconv"
)

// Kind is the rule an input breaks.
type Kind int

// The kinds of Error.
const (
	// Syntax: the input is not JSON.
	Syntax Kind = iota + 1
	// Depth: objects and arrays nest deeper than Limits.Depth.
	Depth
	// DuplicateKey: an object holds two keys that differ only in case, or
	// not at all.
	DuplicateKey
	// InvalidUTF8: the input holds bytes that are not UTF-8.
	InvalidUTF8
	// StringTooLong: a string, key or value, is longer than
	// Limits.StringBytes.
	StringTooLong
	// ControlCharacter: a string, key or value, holds a character that
	// InvalidText refuses.
	ControlCharacter
	// Trailing: something other than whitespace follows the value.
	Trailing
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case Syntax:
		return "Syntax"
	case Depth:
		return "Depth"
	case DuplicateKey:
		return "DuplicateKey"
	case InvalidUTF8:
		return "InvalidUTF8"
	case StringTooLong:
		return "StringTooLong"
	case ControlCharacter:
		return "ControlCharacter"
	case Trailing:
		return "Trailing"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Error is why Decode refuses an input, and where.
type Error struct {
	// Kind is the rule the input breaks.
	Kind Kind
	// Offset is where in the input, in bytes from 0: the byte that is not
	// JSON or not UTF-8, the bracket one level too deep, the opening quote
	// of the repeated key or of the long string, the control character
	// (the backslash of its escape), or what follows the value. It is the
	// input's length when the input ends too early.
	Offset int
	// Reason says, for Syntax, what was found where, as in "invalid
	// character 'x' after an object key"; it is empty when EOF is set.
	Reason string
	// EOF reports, for Syntax, that the input ends before the value does.
	EOF bool
	// Text is, for DuplicateKey, the second of the two keys, and, for
	// ControlCharacter, the string holding the character; both unescaped.
	Text string
	// Char is, for ControlCharacter, the character.
	Char rune
	// Len is, for StringTooLong, the string's length in bytes, unescaped.
	Len int
	// Limit is, for Depth and StringTooLong, the limit the input exceeds.
	Limit int
}

// Error describes the fault and its offset.
func (e *Error) Error() string {
	var s string
	switch e.Kind {
	case Syntax:
		if e.EOF {
			return "strictjson: the input ends too early"
		}
		s = e.Reason
	case Depth:
		s = fmt.Sprintf("objects and arrays nest more than %d levels deep", e.Limit)
	case DuplicateKey:
		s = fmt.Sprintf("key %q appears twice in one object", e.Text)
	case InvalidUTF8:
		s = "invalid UTF-8"
	case StringTooLong:
		s = fmt.Sprintf("a string of %d bytes is longer than the %d allowed", e.Len, e.Limit)
	case ControlCharacter:
		s = fmt.Sprintf("control character %U in a string", e.Char)
	case Trailing:
		s = "something follows the value"
	default:
		s = e.Kind.String()
	}
	return fmt.Sprintf("strictjson: %s (at byte %d)", s, e.Offset)
}
