package scim

// Filter is a parsed, schema-checked SCIM filter (RFC 7644 §3.4.2.2):
// one of *CompareExpr, *LogicalExpr, *NotExpr or *ValuePathExpr. Host
// code gets one from an Expr (Eq, And, ValuePath, …: Expr.Filter) or from
// a filter's text (ParseFilter), checked against a resource type as the
// handler checks a client's.
type Filter interface {
	filter()
}

// CompareOp is a SCIM attribute operator.
type CompareOp string

// The SCIM attribute operators.
const (
	OpEqual          CompareOp = "eq"
	OpNotEqual       CompareOp = "ne"
	OpContains       CompareOp = "co"
	OpStartsWith     CompareOp = "sw"
	OpEndsWith       CompareOp = "ew"
	OpPresent        CompareOp = "pr"
	OpGreater        CompareOp = "gt"
	OpGreaterOrEqual CompareOp = "ge"
	OpLess           CompareOp = "lt"
	OpLessOrEqual    CompareOp = "le"
)

// CompareExpr compares an attribute with a value: `userName eq "bjensen"`.
type CompareExpr struct {
	// Path is the canonical attribute. Inside a ValuePathExpr it is the full
	// path of the sub-attribute (Name "emails", Sub "type").
	Path AttrPath
	Op   CompareOp
	// Value is the comparison value converted to Path.Type: string (string,
	// reference, binary), bool, int64, float64, time.Time (dateTime), or nil
	// for pr and for a comparison with null.
	Value any
}

// LogicalOp is "and" or "or".
type LogicalOp string

// The logical operators.
const (
	And LogicalOp = "and"
	Or  LogicalOp = "or"
)

// LogicalExpr joins two filters.
type LogicalExpr struct {
	Op          LogicalOp
	Left, Right Filter
}

// NotExpr negates a filter.
type NotExpr struct {
	X Filter
}

// ValuePathExpr selects resources with at least one value of a multi-valued
// complex attribute that matches Filter: `emails[type eq "work" and value co "@x"]`.
type ValuePathExpr struct {
	// Path is the multi-valued attribute (Sub is "").
	Path AttrPath
	// Filter applies to each value; its paths name sub-attributes of Path.
	Filter Filter
}

func (*CompareExpr) filter()   {}
func (*LogicalExpr) filter()   {}
func (*NotExpr) filter()       {}
func (*ValuePathExpr) filter() {}
