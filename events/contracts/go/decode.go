package events

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Decode reads one JSON message into v (a pointer to a message type, see NewMessage), refusing
// fields the specification does not have: every object of every event type is closed.
//
// The types do not check what the JSON Schema also says (required fields, enum values, patterns,
// lengths, formats): validate against events/contracts/schemas/<topic>.json for that.
func Decode(data []byte, v any) error {
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(v); err != nil {
		return err
	}
	if decoder.More() {
		return errors.New("events: data after the JSON message")
	}
	return nil
}
