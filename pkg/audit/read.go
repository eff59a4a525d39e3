// Package audit is the audit front door: it reads the API server's audit
// events and reports what they show, with the AUD-* rules and, for the
// objects events carry, the same catalog as scan and the webhook.
package audit

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
	"unsafe"

	jsoniter "github.com/json-iterator/go"
	"github.com/modern-go/reflect2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// Event is one audit event and where it was read.
type Event struct {
	auditv1.Event
	At object.Position `json:"-"`
}

// MaxLine bounds one event: the API server logs objects up to its own
// request limit (3 MiB) twice at RequestResponse level.
const MaxLine = 16 << 20

// Read calls f with each event of an audit log (JSON lines, as
// --audit-log-path writes them, gzipped or not). A line that is not an
// audit event is a diagnostic naming file and line; the others are still
// read.
func Read(r io.Reader, name string, f func(*Event)) []object.Diagnostic {
	br := bufio.NewReaderSize(r, 64<<10)
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return []object.Diagnostic{{Pos: object.Position{File: name}, Severity: object.SeverityError, Message: "not a gzip file: " + err.Error()}}
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	var diags []object.Diagnostic
	bad := func(line int, format string, args ...any) {
		diags = append(diags, object.Diagnostic{Pos: object.Position{File: name, Line: line}, Severity: object.SeverityError, Message: fmt.Sprintf(format, args...)})
	}
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		ev, err := Decode(b)
		if err != nil {
			bad(line, "%v", err)
			continue
		}
		for i := range ev {
			ev[i].At = object.Position{File: name, Line: line}
			f(&ev[i])
		}
	}
	if err := sc.Err(); err != nil {
		bad(line+1, "reading stopped: %v (a line longer than %d MiB?)", err, MaxLine>>20)
	}
	return diags
}

// jsonAPI decodes events twice as fast as encoding/json; unmarshal
// keeps encoding/json's semantics (FuzzDecodeAgrees holds it to them):
// invalid UTF-8, which the API server never writes, goes to encoding/json
// (which replaces it, where jsoniter keeps the bytes).
var jsonAPI = func() jsoniter.API {
	api := jsoniter.Config{EscapeHTML: true, SortMapKeys: true, ValidateJsonRawMessage: true}.Froze()
	api.RegisterExtension(&timeExtension{})
	return api
}()

// timeExtension parses the events' timestamps without metav1's detour
// through encoding/json for the string, to the same value.
type timeExtension struct{ jsoniter.DummyExtension }

var microTimeType = reflect2.TypeOf(metav1.MicroTime{})

func (*timeExtension) CreateDecoder(typ reflect2.Type) jsoniter.ValDecoder {
	if typ == microTimeType {
		return microTimeDecoder{}
	}
	return nil
}

type microTimeDecoder struct{}

func (microTimeDecoder) Decode(ptr unsafe.Pointer, it *jsoniter.Iterator) {
	t := (*metav1.MicroTime)(ptr)
	if it.ReadNil() {
		t.Time = time.Time{}
		return
	}
	if it.WhatIsNext() != jsoniter.StringValue {
		it.ReportError("decode MicroTime", "not a string")
		return
	}
	s := it.ReadString()
	pt, err := time.Parse(metav1.RFC3339Micro, s)
	if err != nil {
		it.ReportError("decode MicroTime", err.Error())
		return
	}
	t.Time = pt.Local()
}

func unmarshal(b []byte, v any) error {
	if utf8.Valid(b) {
		return jsonAPI.Unmarshal(b, v)
	}
	return json.Unmarshal(b, v)
}

// Decode reads one audit event, or an EventList (what the webhook
// backend posts), as JSON, in one pass: the type fields are part of it.
func Decode(b []byte) ([]Event, error) {
	var e eventOrList
	decodeErr := unmarshal(b, &e)
	if decodeErr != nil {
		if !json.Valid(b) {
			var v any
			return nil, fmt.Errorf("not JSON: %v", json.Unmarshal(b, &v))
		}
		// well-formed JSON of another shape: say below what it is
		e = eventOrList{}
		if err := json.Unmarshal(b, &e.TypeMeta); err != nil {
			return nil, fmt.Errorf("not an audit event: %v", err)
		}
	}
	if e.APIVersion != "audit.k8s.io/v1" {
		return nil, fmt.Errorf("not an audit event: apiVersion %q (want audit.k8s.io/v1)", e.APIVersion)
	}
	switch e.Kind {
	case "Event", "EventList":
		if decodeErr != nil {
			// encoding/json says what is wrong, and where
			what, err := "audit event", error(nil)
			if e.Kind == "Event" {
				var ev auditv1.Event
				err = json.Unmarshal(b, &ev)
			} else {
				var l auditv1.EventList
				what, err = "audit event list", json.Unmarshal(b, &l)
			}
			if err == nil {
				err = decodeErr
			}
			return nil, fmt.Errorf("%s: %v", what, err)
		}
		if e.Kind == "EventList" {
			return e.Items, nil
		}
		return []Event{{Event: e.Event}}, nil
	}
	return nil, fmt.Errorf("not an audit event: kind %q", e.Kind)
}

// eventOrList decodes an Event or an EventList in one pass.
type eventOrList struct {
	auditv1.Event
	Items []Event `json:"items"`
}
