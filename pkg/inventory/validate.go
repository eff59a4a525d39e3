package inventory

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// FieldError is a value the API server would reject, at its field path.
type FieldError struct {
	Path    string
	Message string
	// Placeholder says the value is a template's placeholder (${PORT},
	// {{ .port }}): the file is a template for envsubst or the like.
	Placeholder bool
}

// FieldErrors are the rejected values of an object. The fields are left
// out of the analysis: no finding is built on a value that was never there.
type FieldErrors []FieldError

func (f FieldError) String() string { return f.Path + ": " + f.Message }

func (e FieldErrors) Error() string {
	parts := make([]string, len(e))
	for i, f := range e {
		parts[i] = f.String()
	}
	return strings.Join(parts, "; ")
}

// clean returns a copy of v, unstructured content for a value of type t,
// without the values that do not decode as t does (a number where a string
// belongs, 1.5 or "0" where an integer belongs), and records each at its
// path. Fields t does not have are kept: decoding ignores them.
func clean(v any, t reflect.Type, path string, errs *FieldErrors) (any, bool) {
	bad := func(format string, args ...any) (any, bool) {
		str, _ := v.(string)
		*errs = append(*errs, FieldError{path, fmt.Sprintf(format, args...), placeholder.MatchString(str)})
		return nil, false
	}
	if v == nil {
		return nil, true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if p := planFor(t); p.unmarshaler {
		data, err := json.Marshal(v)
		if err == nil {
			err = reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(data)
		}
		if err != nil {
			return bad("invalid %s: %s", typeName(t), describe(v))
		}
		return v, true
	}
	switch t.Kind() {
	case reflect.String:
		if _, ok := v.(string); !ok {
			return bad("expected a string, got %s", describe(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return bad("expected a boolean, got %s", describe(v))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		i, ok := v.(int64)
		if f, isFloat := v.(float64); isFloat && f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
			// kubectl sends YAML's 1.0 as JSON's 1
			i, ok = int64(f), true
		}
		if !ok {
			return bad("expected an integer, got %s", describe(v))
		}
		if reflect.New(t).Elem().OverflowInt(i) && t.Kind() < reflect.Uint || t.Kind() >= reflect.Uint && (i < 0 || reflect.New(t).Elem().OverflowUint(uint64(i))) {
			return bad("%d does not fit in %s", i, t.Kind())
		}
	case reflect.Float32, reflect.Float64:
		switch v.(type) {
		case int64, float64:
		default:
			return bad("expected a number, got %s", describe(v))
		}
	case reflect.Slice:
		l, ok := v.([]any)
		if !ok {
			return bad("expected a list, got %s", describe(v))
		}
		out := make([]any, 0, len(l))
		for i, e := range l {
			c, ok := clean(e, t.Elem(), object.Index(path, i), errs)
			if ok || structLike(t.Elem()) {
				out = append(out, c) // an item keeps its place: later indexes stay right
			}
		}
		return out, true
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return bad("expected a map, got %s", describe(v))
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			if c, ok := clean(e, t.Elem(), object.Key(path, k), errs); ok {
				out[k] = c
			}
		}
		return out, true
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return bad("expected an object, got %s", describe(v))
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			ft, known := structField(t, k)
			if !known {
				out[k] = e
				continue
			}
			if c, ok := clean(e, ft, object.Key(path, k), errs); ok {
				out[k] = c
			}
		}
		return out, true
	}
	return v, true
}

var placeholder = regexp.MustCompile(`\$\{[^}]*\}|\{\{.*\}\}|^\$\([A-Za-z_]+\)$|^<[^<>]+>$`)

func structLike(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct && !planFor(t).unmarshaler
}

// structField finds the type of the field named name (its JSON name) of
// struct t, looking into embedded structs.
func structField(t reflect.Type, name string) (reflect.Type, bool) {
	for _, f := range planFor(t).fields {
		ft := t.Field(f.index).Type
		if f.inline {
			if inner, ok := structField(ft, name); ok {
				return inner, true
			}
		} else if f.name == name {
			return ft, true
		}
	}
	return nil, false
}

func typeName(t reflect.Type) string {
	switch t.Name() {
	case "Quantity":
		return "quantity"
	case "IntOrString":
		return "integer or string"
	}
	return t.Name()
}

// describe names a value's type the way encoding/json does, with the value.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return fmt.Sprintf("string %q", x)
	case float64:
		n := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(n, ".eEIN") {
			n += ".0"
		}
		return "number " + n
	case int64:
		return fmt.Sprintf("number %d", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// validateIDs applies the API server's validation of user and group IDs
// (0 to 2147483647): an ID outside it is an error at its field, and the
// field is left out, as the pod would never run with it.
func validateIDs(w *Workload) FieldErrors {
	var errs FieldErrors
	valid := func(id int64, path string) bool {
		if id < 0 || id > math.MaxInt32 {
			errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf("%d is not a valid ID: must be between 0 and 2147483647, inclusive", id)})
			return false
		}
		return true
	}
	check := func(p **int64, path string) {
		if *p != nil && !valid(**p, path) {
			*p = nil
		}
	}
	if sc := w.Spec.SecurityContext; sc != nil {
		base := w.Field("securityContext")
		check(&sc.RunAsUser, base+".runAsUser")
		check(&sc.RunAsGroup, base+".runAsGroup")
		check(&sc.FSGroup, base+".fsGroup")
		kept := sc.SupplementalGroups[:0]
		for i, g := range sc.SupplementalGroups {
			if valid(g, object.Index(base+".supplementalGroups", i)) {
				kept = append(kept, g)
			}
		}
		sc.SupplementalGroups = kept
	}
	for _, c := range w.Containers {
		if sc := c.SecurityContext; sc != nil {
			check(&sc.RunAsUser, c.Path+".securityContext.runAsUser")
			check(&sc.RunAsGroup, c.Path+".securityContext.runAsGroup")
		}
	}
	return errs
}
