// Package strictjson decodes one JSON value as encoding/json's Decoder with
// UseNumber decodes it into an any (objects as map[string]any, arrays as
// []any, numbers as json.Number, exactly as written), but refuses what a
// SCIM request body must not hold even where JSON allows it:
//
//   - bytes that are not UTF-8, where encoding/json would read U+FFFD
//     instead and so store something the client never sent;
//   - two keys of one object that differ only in case, or not at all:
//     SCIM attribute names are case-insensitive (RFC 7643 §2.1), so both
//     name one attribute, and which value a reader took would depend on
//     the order it happened to read them in;
//   - control characters in strings, keys included, whether written raw or
//     escaped: the C0 controls other than tab, line feed and carriage
//     return, DEL, and the C1 controls (see InvalidText); no attribute
//     needs them, and they confuse logs, terminals and other systems that
//     the values are passed on to;
//   - objects and arrays nested deeper than Limits.Depth and strings longer
//     than Limits.StringBytes, so that a small body cannot ask for a deep
//     stack or an outsized value;
//   - anything but whitespace after the value.
//
// Decode checks all of this in the one pass that decodes, and reports the
// first fault it meets as an *Error whose Kind says which rule the input
// breaks.
package strictjson
