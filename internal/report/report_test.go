package report

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

type nested struct {
	Rules []string `json:"rules"`
	Raw   []byte   `json:"raw"`
}

type withArrays struct {
	Common
	Rules   []string  `json:"rules"`
	Journal *nested   `json:"journal"`
	Missing *nested   `json:"missing"`
	Items   []*nested `json:"items"`
}

func (*withArrays) Text(io.Writer) {}

// Every result carries the schema version and no array of it is null, at
// any depth; null pointers stay null.
func TestJSONSchemaAndNoNullArrays(t *testing.T) {
	r := &withArrays{Journal: &nested{}, Items: []*nested{{}}}
	var b bytes.Buffer
	if err := JSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["schema"] != float64(SchemaVersion) || SchemaVersion != 1 {
		t.Errorf("schema = %v, want 1", got["schema"])
	}
	for _, k := range []string{"vfs", "warnings", "diff", "rules"} {
		if a, ok := got[k].([]any); !ok || len(a) != 0 {
			t.Errorf("%s = %#v, want []", k, got[k])
		}
	}
	if rules, ok := got["journal"].(map[string]any)["rules"].([]any); !ok || len(rules) != 0 {
		t.Errorf("journal.rules = %#v, want []", got["journal"])
	}
	if rules, ok := got["items"].([]any)[0].(map[string]any)["rules"].([]any); !ok || len(rules) != 0 {
		t.Errorf("items[0].rules = %#v, want []", got["items"])
	}
	if got["missing"] != nil {
		t.Errorf("missing = %#v, want null", got["missing"])
	}
}
