package runtime

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnmarshalSparseAgreesWithEncodingJSON decodes configs both ways and wants the same
// spec: the two this runtime writes, and one with every field of every type of the spec
// set (so that each type the sparse decoder can meet, embedded structs too, is met once).
func TestUnmarshalSparseAgreesWithEncodingJSON(t *testing.T) {
	var full specs.Spec
	fill(reflect.ValueOf(&full).Elem(), 0)
	for name, spec := range map[string]*specs.Spec{
		"runc's example":       ExampleSpec(false, 0, 0),
		"Docker's hardening":   DockerSpec([]string{"/bin/true"}),
		"every field set once": &full,
	} {
		t.Run(name, func(t *testing.T) {
			data, err := json.Marshal(spec)
			require.NoError(t, err)
			var want, got specs.Spec
			require.NoError(t, json.Unmarshal(data, &want))
			require.NoError(t, unmarshalSparse(data, &got))
			assert.Equal(t, want, got, "the sparse decode must give what json.Unmarshal gives")
		})
	}
}

func TestUnmarshalSparseKeepsEncodingJSONRules(t *testing.T) {
	const doc = `{
		"ociVersion": "1.2.0",
		"PROCESS": {"args": ["sh"], "Cwd": "/", "user": null, "unknown": {"a": 1}},
		"root": null,
		"mounts": [{"destination": "/proc", "type": "proc"}],
		"linux": {"resources": {"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 10}]}},
		          "timeOffsets": {"monotonic": {"secs": 5}}}
	}`
	var want, got specs.Spec
	require.NoError(t, json.Unmarshal([]byte(doc), &want))
	require.NoError(t, unmarshalSparse([]byte(doc), &got))
	assert.Equal(t, want, got, "keys in any case, unknown keys, nulls, embedded fields and maps of structs as json.Unmarshal reads them")
	assert.Equal(t, []string{"sh"}, got.Process.Args)
	assert.Equal(t, int64(8), got.Linux.Resources.BlockIO.WeightDevice[0].Major, "Major comes from the embedded LinuxBlockIODevice")
}

func TestUnmarshalSparseErrorsSayWhere(t *testing.T) {
	var spec specs.Spec
	err := unmarshalSparse([]byte(`{"linux": {"resources": {"memory": {"limit": "lots"}}}}`), &spec)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "linux.resources.memory: ", "the error names the object that is wrong")
	assert.Contains(t, err.Error(), "LinuxMemory.limit", "and encoding/json the field in it")

	err = unmarshalSparse([]byte(`{"linux": {"resources": {"devices": [{"allow": true}, {"major": 1}, "x"]}}}`), &spec)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "linux.resources.devices: ")

	err = unmarshalSparse([]byte(`{"process": "sh"}`), &spec)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `process: want an object (for specs.Process), not "sh"`)

	err = unmarshalSparse([]byte(`{"process": {`), &spec)
	var syntax *json.SyntaxError
	assert.ErrorAs(t, err, &syntax, "a document that is not JSON is a syntax error, as from json.Unmarshal")
}

// fill sets every field reachable from v: strings, numbers and booleans to something
// other than their zero, two elements in each list and map, and every pointer to a value.
// (The spec has no type that holds itself; the depth limit is a guard.)
func fill(v reflect.Value, depth int) {
	if depth > 8 {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + strconv.Itoa(depth))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(depth + 1))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(uint64(depth + 2))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(0.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth+1)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte("bytes"))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), depth+1)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for i := range 2 {
			key := reflect.New(v.Type().Key()).Elem()
			fill(key, depth+i)
			value := reflect.New(v.Type().Elem()).Elem()
			fill(value, depth+1)
			v.SetMapIndex(key, value)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth)
			}
		}
	}
}

func TestUnmarshalSparseLeavesOtherMapKeysToEncodingJSON(t *testing.T) {
	// specs.Process reaches more than fewStructs struct types, so only the int keys keep
	// this map from being taken apart key by key.
	var want, got struct{ ByNumber map[int]specs.Process }
	doc := []byte(`{"ByNumber": {"1": {"args": ["a"]}, "2": {"cwd": "/"}}}`)
	require.NoError(t, json.Unmarshal(doc, &want))
	require.NoError(t, unmarshalSparse(doc, &got), "a map whose keys are not strings goes to json.Unmarshal whole")
	assert.Equal(t, want, got)
}
