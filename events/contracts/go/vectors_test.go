package events

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The mutations of an invalid vector that the Go types refuse by themselves. The rest (a missing
// required field, an enum value, a pattern, a length, a format, a pinned constant, a control
// character) only the JSON Schema refuses: tests/events_spec/test_vectors.py shows that it does.
var refusedByTypes = map[string]bool{"unknown_field": true, "wrong_type": true}

type vectorFile struct {
	Topic string `json:"topic"`
	Valid []struct {
		Name    string          `json:"name"`
		Message json.RawMessage `json:"message"`
	} `json:"valid"`
	Invalid []struct {
		Name     string          `json:"name"`
		Mutation string          `json:"mutation"`
		Message  json.RawMessage `json:"message"`
	} `json:"invalid"`
}

func loadVectors(t *testing.T) []vectorFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "vectors", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no vectors in ../vectors: %v", err)
	}
	files := make([]vectorFile, 0, len(paths))
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var file vectorFile
		if err := json.Unmarshal(raw, &file); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if NewMessage(file.Topic) == nil {
			t.Fatalf("%s: no Go type for topic %q", path, file.Topic)
		}
		files = append(files, file)
	}
	return files
}

// generic decodes JSON keeping numbers as written, so two documents compare by value.
func generic(t *testing.T, raw []byte) any {
	t.Helper()
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.UseNumber()
	var value any
	if err := decoder.Decode(&value); err != nil {
		t.Fatal(err)
	}
	return value
}

func TestValidVectorsRoundTrip(t *testing.T) {
	for _, file := range loadVectors(t) {
		for _, vector := range file.Valid {
			t.Run(file.Topic+"/"+vector.Name, func(t *testing.T) {
				message := NewMessage(file.Topic)
				if err := Decode(vector.Message, message); err != nil {
					t.Fatalf("decode: %v", err)
				}
				encoded, err := json.Marshal(message)
				if err != nil {
					t.Fatalf("encode: %v", err)
				}
				if got, want := generic(t, encoded), generic(t, vector.Message); !reflect.DeepEqual(got, want) {
					t.Fatalf("re-encoded message differs\n got: %s\nwant: %s", encoded, vector.Message)
				}
			})
		}
	}
}

func TestInvalidVectors(t *testing.T) {
	for _, file := range loadVectors(t) {
		for _, vector := range file.Invalid {
			t.Run(file.Topic+"/"+vector.Name, func(t *testing.T) {
				err := Decode(vector.Message, NewMessage(file.Topic))
				switch {
				case refusedByTypes[vector.Mutation] && err == nil:
					t.Fatalf("the Go types accepted a %s", vector.Mutation)
				case !refusedByTypes[vector.Mutation] && err == nil:
					t.Logf("%s: the Go types cannot refuse it alone; the JSON Schema does", vector.Mutation)
				}
			})
		}
	}
}

func TestNullableTellsAbsentFromNull(t *testing.T) {
	var absent, null Metadata
	if err := json.Unmarshal([]byte(`{}`), &absent); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(`{"flow_id": null}`), &null); err != nil {
		t.Fatal(err)
	}
	if absent.FlowID.Present || !null.FlowID.Present || null.FlowID.Valid {
		t.Fatalf("absent %+v, null %+v", absent.FlowID, null.FlowID)
	}
}
