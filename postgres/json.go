package postgres

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/internal/strictjson"
)

// encodeDoc writes v as JSON for a jsonb column. Unlike encoding/json it
// writes every float64 as its exact decimal value, so that PostgreSQL's
// numeric comparisons of stored values and filter operands agree with
// scim.Matches, which compares int64 and float64 exactly. With fold set,
// every string value (not the object keys) is written case-folded with
// scim.FoldCase: the copy that case-insensitive filters and sorts read.
func encodeDoc(v any, fold bool) (string, error) {
	var b bytes.Buffer
	if err := writeValue(&b, v, fold); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeValue(b *bytes.Buffer, v any, fold bool) error {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		if fold {
			v = scim.FoldCase(v)
		}
		writeString(b, v)
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case int:
		b.WriteString(strconv.Itoa(v))
	case int32:
		b.WriteString(strconv.FormatInt(int64(v), 10))
	case uint64:
		b.WriteString(strconv.FormatUint(v, 10))
	case float64:
		s, err := exactDecimal(v)
		if err != nil {
			return err
		}
		b.WriteString(s)
	case float32:
		return writeValue(b, float64(v), fold)
	case json.Number:
		if _, err := strconv.ParseFloat(string(v), 64); err != nil {
			return fmt.Errorf("postgres: invalid number %q", string(v))
		}
		b.WriteString(string(v))
	case map[string]any:
		b.WriteByte('{')
		first := true
		for k, e := range v {
			if !first {
				b.WriteByte(',')
			}
			first = false
			writeString(b, k)
			b.WriteByte(':')
			if err := writeValue(b, e, fold); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeValue(b, e, fold); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	default:
		// Not one of the JSON kinds Resource.Attributes holds: take what
		// encoding/json makes of it, as a plain JSON value.
		raw, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("postgres: attribute value of type %T: %w", v, err)
		}
		var decoded any
		if err := unmarshalExact(raw, &decoded); err != nil {
			return err
		}
		return writeValue(b, decoded, fold)
	}
	return nil
}

// writeString writes s as a JSON string. PostgreSQL text cannot hold NUL,
// so a string with one is refused by the database, not here.
func writeString(b *bytes.Buffer, s string) {
	raw, _ := json.Marshal(s) // a string always marshals
	b.Write(raw)
}

// exactDecimal returns the exact decimal value of f: every float64 is a
// finite binary fraction, so it has a finite decimal expansion.
func exactDecimal(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("postgres: number %v has no JSON form", f)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
		return strconv.FormatInt(int64(f), 10), nil
	}
	r := new(big.Rat).SetFloat64(f)
	if r.IsInt() {
		return r.Num().String(), nil
	}
	// The denominator is 2^k: k decimal places hold the value exactly.
	k := r.Denom().BitLen() - 1
	return r.FloatString(k), nil
}

// decodeDoc parses a jsonb value read from the database into the JSON kinds
// of scim.Resource.Attributes: integers as int64 (exactly, also beyond
// 2^53), other numbers as float64.
func decodeDoc(raw []byte) (map[string]any, error) {
	if raw == nil {
		return nil, nil
	}
	var v any
	if err := unmarshalExact(raw, &v); err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok && v != nil {
		return nil, fmt.Errorf("postgres: stored attributes are not a JSON object")
	}
	return m, nil
}

// decodeList parses a jsonb array (an aggregate of members or groups).
func decodeList(raw []byte) ([]any, error) {
	if raw == nil {
		return nil, nil
	}
	var v any
	if err := unmarshalExact(raw, &v); err != nil {
		return nil, err
	}
	l, _ := v.([]any)
	return l, nil
}

// unmarshalExact decodes raw into *out with numbers as convertNumbers
// makes them. What the store wrote passed the handler's input rules, which
// strictjson.Decode checks, and it decodes that fastest; a document written
// otherwise (a host's own SQL, a value with a control character) is read
// by encoding/json as before.
func unmarshalExact(raw []byte, out *any) error {
	if v, err := strictjson.Decode(raw, strictjson.Limits{}); err == nil {
		*out = convertNumbers(v)
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return fmt.Errorf("postgres: decoding stored JSON: %w", err)
	}
	*out = convertNumbers(v)
	return nil
}

// convertNumbers replaces json.Number values by int64 or float64.
func convertNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		s := string(v)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !isRangeErr(err) {
			return s
		}
		return f
	case map[string]any:
		for k, e := range v {
			v[k] = convertNumbers(e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = convertNumbers(e)
		}
		return v
	}
	return v
}

func isRangeErr(err error) bool {
	var ne *strconv.NumError
	if e, ok := err.(*strconv.NumError); ok {
		ne = e
	}
	return ne != nil && ne.Err == strconv.ErrRange
}

// encodeTimes returns the document that dateTime filters and sorts read:
// the attributes with every string that parses as a dateTime (as
// scim.Matches parses them) replaced by its instant as a number, the
// nanoseconds since 1970 (exact, in any zone), numbers replaced by null,
// other strings, booleans and the structure kept. ok is false when the
// attributes hold no dateTime at all: the column is then NULL.
func encodeTimes(attrs map[string]any) (doc string, ok bool, err error) {
	found := false
	v := timesValue(attrs, &found)
	if !found {
		return "", false, nil
	}
	doc, err = encodeDoc(v, false)
	return doc, true, err
}

func timesValue(v any, found *bool) any {
	switch v := v.(type) {
	case string:
		if !mayBeDateTime(v) {
			return v
		}
		if t, ok := scim.ParseDateTime(v); ok {
			*found = true
			return json.Number(epochNanos(t))
		}
		return v
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = timesValue(e, found)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = timesValue(e, found)
		}
		return out
	case bool, nil:
		return v
	}
	return nil // numbers and anything else: no dateTime
}

// mayBeDateTime is a cheap test that leaves out most strings that are no
// dateTime before scim.ParseDateTime, which upper-cases (allocates) first:
// encodeTimes asks it of every string of every document written. Every
// string scim.ParseDateTime accepts has at least 19 bytes and a "-" after
// its four-digit year (upper-casing cannot make one, nor lengthen the
// string), so the answers are the same.
func mayBeDateTime(s string) bool {
	return len(s) >= len("2006-01-02T15:04:05") && s[4] == '-'
}

// epochNanos returns t as the decimal number of nanoseconds since 1970,
// exactly, for any year.
func epochNanos(t time.Time) string {
	n := new(big.Int).Mul(big.NewInt(t.Unix()), big.NewInt(1e9))
	return n.Add(n, big.NewInt(int64(t.Nanosecond()))).String()
}
