package inventory

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// convertTo fills dst, a pointer to a zero API value, from unstructured
// content the way runtime.DefaultUnstructuredConverter.FromUnstructured
// does. That converter resolves every struct field by reflection for every
// value, which made converting a pod spec the largest cost of a workload
// after decoding it; here each type's fields are resolved once. Whatever
// this does not convert exactly (mismatched types, floats into integers,
// base64 bytes, interfaces) goes to the converter, so results and errors
// stay the converter's; a test compares both on the corpus.
func convertTo(content map[string]any, dst any) error {
	if convert(content, reflect.ValueOf(dst).Elem()) {
		return nil
	}
	v := reflect.ValueOf(dst).Elem()
	v.SetZero()
	return runtime.DefaultUnstructuredConverter.FromUnstructured(content, dst)
}

type typePlan struct {
	unmarshaler bool // converted through its UnmarshalJSON, as the converter does
	fields      []fieldPlan
	ok          bool // a struct whose every field can be set
	// byName finds a field by its JSON name and inline lists the embedded
	// structs read from the same map: content sets a few of a pod spec's
	// forty fields, so walking the content's keys beats looking up every
	// field. nil when two fields share a name.
	byName map[string]int
	inline []int
}

type fieldPlan struct {
	name   string // "" for an embedded struct read from the same map
	index  int
	inline bool
}

var plans sync.Map // reflect.Type -> *typePlan

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	stringMap       = reflect.TypeFor[map[string]string]()
	quantityType    = reflect.TypeFor[resource.Quantity]()
	intOrStringType = reflect.TypeFor[intstr.IntOrString]()
)

// quantity parses resource requests and limits the way the converter's
// JSON round trip does, for the values where that round trip changes
// nothing: integers, and strings of characters JSON does not escape.
// false leaves the value to the round trip.
func quantity(v any) (resource.Quantity, bool) {
	var s string
	switch x := v.(type) {
	case int64:
		s = strconv.FormatInt(x, 10)
	case string:
		for i := 0; i < len(x); i++ {
			c := x[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '+' || c == '-' || c == ' ') {
				return resource.Quantity{}, false
			}
		}
		s = strings.TrimSpace(x)
	default:
		return resource.Quantity{}, false
	}
	q, err := resource.ParseQuantity(s)
	return q, err == nil
}

// intOrString is IntOrString's UnmarshalJSON for the values its JSON round
// trip keeps as they are: valid UTF-8 strings and integers of 32 bits.
func intOrString(v any) (intstr.IntOrString, bool) {
	switch x := v.(type) {
	case string:
		return intstr.IntOrString{Type: intstr.String, StrVal: x}, utf8.ValidString(x)
	case int64:
		return intstr.IntOrString{Type: intstr.Int, IntVal: int32(x)}, x >= math.MinInt32 && x <= math.MaxInt32
	}
	return intstr.IntOrString{}, false
}

func planFor(t reflect.Type) *typePlan {
	if p, ok := plans.Load(t); ok {
		return p.(*typePlan)
	}
	p := &typePlan{unmarshaler: reflect.PointerTo(t).Implements(unmarshalerType), ok: true}
	if t.Kind() == reflect.Struct {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.PkgPath != "" {
				p.ok = false
				break
			}
			name := f.Name
			if tag, ok := f.Tag.Lookup("json"); ok && tag != "" {
				name = tag
				for j := 0; j < len(tag); j++ {
					if tag[j] == ',' {
						name = tag[:j]
						break
					}
				}
				if name == "" && !f.Anonymous {
					name = f.Name
				}
			} else if f.Anonymous {
				name = ""
			}
			p.fields = append(p.fields, fieldPlan{name: name, index: i, inline: name == ""})
		}
		p.byName = map[string]int{}
		for _, f := range p.fields {
			if f.inline {
				p.inline = append(p.inline, f.index)
			} else if _, dup := p.byName[f.name]; dup {
				p.byName = nil
				break
			} else {
				p.byName[f.name] = f.index
			}
		}
	}
	v, _ := plans.LoadOrStore(t, p)
	return v.(*typePlan)
}

// convert sets dst, which holds its zero value, from v; false when the
// converter must decide.
func convert(v any, dst reflect.Value) bool {
	if v == nil {
		return true // stays zero
	}
	t := dst.Type()
	switch t.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if ok {
			dst.SetString(s)
		}
		return ok
	case reflect.Bool:
		b, ok := v.(bool)
		if ok {
			dst.SetBool(b)
		}
		return ok
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, ok := v.(int64)
		if ok {
			dst.SetInt(i)
		}
		return ok
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		i, ok := v.(int64)
		if ok {
			dst.SetUint(uint64(i))
		}
		return ok
	case reflect.Float32, reflect.Float64:
		switch n := v.(type) {
		case float64:
			dst.SetFloat(n)
			return true
		case int64:
			dst.SetFloat(float64(n))
			return true
		}
		return false
	}
	switch t {
	case quantityType:
		if q, ok := quantity(v); ok {
			dst.Set(reflect.ValueOf(q))
			return true
		}
	case intOrStringType:
		if is, ok := intOrString(v); ok {
			dst.Set(reflect.ValueOf(is))
			return true
		}
	}
	p := planFor(t)
	if p.unmarshaler {
		data, err := json.Marshal(v)
		return err == nil && dst.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(data) == nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		n := reflect.New(t.Elem())
		if !convert(v, n.Elem()) {
			return false
		}
		dst.Set(n)
		return true
	case reflect.Slice:
		l, ok := v.([]any)
		if !ok {
			return false
		}
		s := reflect.MakeSlice(t, len(l), len(l))
		for i, e := range l {
			if !convert(e, s.Index(i)) {
				return false
			}
		}
		dst.Set(s)
		return true
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok || t.Key().Kind() != reflect.String {
			return false
		}
		if t == stringMap {
			// labels, annotations and selectors, in nearly every object:
			// built without reflection
			out := make(map[string]string, len(m))
			for k, e := range m {
				s, ok := e.(string)
				if !ok && e != nil {
					return false
				}
				out[k] = s
			}
			dst.Set(reflect.ValueOf(out))
			return true
		}
		out := reflect.MakeMapWithSize(t, len(m))
		for k, e := range m {
			ev := reflect.New(t.Elem()).Elem()
			if !convert(e, ev) {
				return false
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
		}
		dst.Set(out)
		return true
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok || !p.ok {
			return false
		}
		if p.byName != nil {
			for k, e := range m {
				if i, ok := p.byName[k]; ok && !convert(e, dst.Field(i)) {
					return false
				}
			}
			for _, i := range p.inline {
				if !convert(v, dst.Field(i)) {
					return false
				}
			}
			return true
		}
		for _, f := range p.fields {
			fv := dst.Field(f.index)
			if f.inline {
				if !convert(v, fv) {
					return false
				}
				continue
			}
			if e, ok := m[f.name]; ok && !convert(e, fv) {
				return false
			}
		}
		return true
	}
	return false
}
