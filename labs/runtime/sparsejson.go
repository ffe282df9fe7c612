package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// unmarshalSparse decodes JSON data into the struct v points to, as json.Unmarshal does,
// but teaches encoding/json only the types the data holds.
//
// Why: the first json.Unmarshal into a type makes encoding/json learn that type by
// reflection, and learning a struct means learning the types of all its fields, down to
// the leaves. specs.Spec reaches 63 struct types (every resource, Windows, VMs, z/OS...),
// and a runtime is a new process for every command: each `labs-runc run` learnt types its
// config never mentions. The first decode in a fresh process, medians of 31: runc's
// default config 2.6 ms whole, 1.7 ms this way; Docker's hardening 3.3 and 2.7 ms. Here a
// JSON object whose type reaches many struct types is split into its keys first, and only
// a key that is present is decoded into its field; a value whose type reaches few (a
// mount, a seccomp rule, a list of strings) goes to json.Unmarshal whole.
//
// It keeps json.Unmarshal's rules for what the runtime reads: a key matches a field's JSON
// name exactly, or else without regard to case; unknown keys are ignored; null leaves a
// field unset; the fields of an embedded struct count as the outer struct's. An error
// names the place in the document down to the value json.Unmarshal took whole, and
// encoding/json's own message names the field in it (`linux.resources.memory: json:
// cannot unmarshal string into Go struct field LinuxMemory.limit of type int64`).
func unmarshalSparse(data []byte, v any) error {
	if err := decodeSparse(data, reflect.ValueOf(v).Elem()); err != nil {
		if p, ok := err.(*pathError); ok && len(p.path) > 0 {
			return fmt.Errorf("%s: %w", strings.TrimPrefix(strings.Join(p.path, ""), "."), p.err)
		}
		return err
	}
	return nil
}

// pathError is a decoding error and where it happened, built from the inside out.
type pathError struct {
	path []string // ".key" and "[index]" steps, outermost first
	err  error
}

func (e *pathError) Error() string { return e.err.Error() }

// at puts step in front of err's path.
func at(step string, err error) error {
	p, ok := err.(*pathError)
	if !ok {
		p = &pathError{err: err}
	}
	p.path = append([]string{step}, p.path...)
	return p
}

func decodeSparse(data []byte, v reflect.Value) error {
	t := v.Type()
	// (A map is taken apart only when its keys are strings, as JSON's keys are; any other
	// key type is encoding/json's to convert.)
	if len(structsOf(t)) <= fewStructs || t.Kind() == reflect.Map && t.Key().Kind() != reflect.String {
		return json.Unmarshal(data, v.Addr().Interface())
	}
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		if t.Kind() != reflect.Struct {
			v.SetZero()
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		return decodeSparse(data, v.Elem())
	case reflect.Slice:
		var items []json.RawMessage
		if err := json.Unmarshal(data, &items); err != nil {
			return wrongKind(data, t)
		}
		list := reflect.MakeSlice(t, len(items), len(items))
		for i, item := range items {
			if err := decodeSparse(item, list.Index(i)); err != nil {
				return at("["+strconv.Itoa(i)+"]", err)
			}
		}
		v.Set(list)
		return nil
	case reflect.Map:
		var items map[string]json.RawMessage
		if err := json.Unmarshal(data, &items); err != nil {
			return wrongKind(data, t)
		}
		m := reflect.MakeMapWithSize(t, len(items))
		for key, item := range items {
			value := reflect.New(t.Elem()).Elem()
			if err := decodeSparse(item, value); err != nil {
				return at("."+key, err)
			}
			m.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), value)
		}
		v.Set(m)
		return nil
	}
	var object map[string]json.RawMessage
	if err := json.Unmarshal(data, &object); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return err
		}
		return wrongKind(data, t)
	}
	for key, item := range object {
		if index := fieldIndex(t, key); index != nil {
			if err := decodeSparse(item, v.FieldByIndex(index)); err != nil {
				return at("."+key, err)
			}
		}
	}
	return nil
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// wrongKind is the error for a JSON value that is not the object or array type t needs.
func wrongKind(data []byte, t reflect.Type) error {
	want := "an object"
	if t.Kind() == reflect.Slice {
		want = "an array"
	}
	if len(data) > 20 {
		data = append(data[:17:17], "..."...)
	}
	return fmt.Errorf("want %s (for %s), not %s", want, t, data)
}

// fewStructs is how many struct types a value may reach and still go to json.Unmarshal
// whole: learning a few small types costs less than taking many small objects apart (a
// seccomp profile is a list of hundreds of them).
const fewStructs = 4

// structsOf is the set of struct types t is, holds or points to, down to the leaves,
// which is what encoding/json learns before it decodes a t. A type that decodes itself
// (json.Unmarshaler) counts as none: encoding/json leaves it to its method.
func structsOf(t reflect.Type) map[reflect.Type]bool {
	if known, ok := structSets.Load(t); ok {
		return known.(map[reflect.Type]bool)
	}
	set := map[reflect.Type]bool{}
	addStructs(t, set)
	structSets.Store(t, set)
	return set
}

var structSets sync.Map // reflect.Type: map[reflect.Type]bool, as structsOf found it

func addStructs(t reflect.Type, set map[reflect.Type]bool) {
	if set[t] || reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		addStructs(t.Elem(), set)
	case reflect.Struct:
		set[t] = true
		for i := range t.NumField() {
			addStructs(t.Field(i).Type, set)
		}
	}
}

// fieldIndex is the index path of the field of struct t that JSON key names, or nil: an
// exact match first, as encoding/json does, and only then one without regard to case.
func fieldIndex(t reflect.Type, key string) []int {
	if index := matchField(t, key, false); index != nil {
		return index
	}
	return matchField(t, key, true)
}

func matchField(t reflect.Type, key string, anyCase bool) []int {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			if inner := matchField(f.Type, key, anyCase); inner != nil {
				return append([]int{i}, inner...)
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == key || anyCase && strings.EqualFold(name, key) {
			return []int{i}
		}
	}
	return nil
}
