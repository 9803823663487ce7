package events

import "encoding/json"

// Nullable is a field that is optional and may also be null (metadata.flow_id): a pointer cannot
// tell an absent field from null, and a message must re-encode as it came. Tag it `omitzero`.
type Nullable[T any] struct {
	Present bool // the field was in the message
	Valid   bool // its value was not null: Value holds it
	Value   T
}

// Some is a present, non-null value.
func Some[T any](value T) Nullable[T] { return Nullable[T]{Present: true, Valid: true, Value: value} }

// Null is a present null.
func Null[T any]() Nullable[T] { return Nullable[T]{Present: true} }

// IsZero reports an absent field, which omitzero leaves out.
func (n Nullable[T]) IsZero() bool { return !n.Present }

func (n Nullable[T]) MarshalJSON() ([]byte, error) {
	if !n.Valid {
		return []byte("null"), nil
	}
	return json.Marshal(n.Value)
}

func (n *Nullable[T]) UnmarshalJSON(data []byte) error {
	*n = Nullable[T]{Present: true}
	if string(data) == "null" {
		return nil
	}
	n.Valid = true
	return json.Unmarshal(data, &n.Value)
}
