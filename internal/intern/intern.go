// Package intern keeps one copy of strings a scan builds over and over:
// the field paths checks resolve and the messages findings keep, millions
// of them out of a few thousand distinct ones.
//
// A Table is a fixed array of slots indexed by a hash of the string, read
// and written without locks: a lookup is one hash and one comparison, and
// a newcomer simply replaces what its slot held. The memory is bounded
// whatever the input, which matters to a webhook that runs for months, and
// a string evicted that way is only built again, never wrong.
package intern

import (
	"hash/maphash"
	"sync/atomic"
)

const slots = 1 << 14

// Table interns strings. The zero value is not usable; see New.
type Table struct {
	seed  maphash.Seed
	slots [slots]atomic.Pointer[string]
}

// New returns an empty table.
func New() *Table { return &Table{seed: maphash.MakeSeed()} }

// String returns a string equal to s, the same one for equal strings
// while it stays in the table. s must not alias memory that changes.
func (t *Table) String(s string) string {
	slot := &t.slots[maphash.String(t.seed, s)&(slots-1)]
	if p := slot.Load(); p != nil && *p == s {
		return *p
	}
	p := new(string) // only here: &s would move every caller's s to the heap
	*p = s
	slot.Store(p)
	return s
}

// Bytes returns a string equal to b, the same one for equal contents
// while it stays in the table; a string is built only when the table does
// not hold one. b may be reused once Bytes returns: formatting into one
// buffer and interning the result leaves no garbage when the text is known.
func (t *Table) Bytes(b []byte) string {
	slot := &t.slots[maphash.Bytes(t.seed, b)&(slots-1)]
	if p := slot.Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	slot.Store(&s)
	return s
}

// Join returns base + "." + field, built once while it stays in the
// table. base and field may alias memory that changes: the table keeps
// only the joined copy.
func (t *Table) Join(base, field string) string {
	var h maphash.Hash
	h.SetSeed(t.seed)
	h.WriteString(base)
	h.WriteByte('.')
	h.WriteString(field)
	slot := &t.slots[h.Sum64()&(slots-1)]
	if p := slot.Load(); p != nil {
		if s := *p; len(s) == len(base)+1+len(field) && s[len(base)] == '.' && s[:len(base)] == base && s[len(base)+1:] == field {
			return s
		}
	}
	s := base + "." + field
	slot.Store(&s)
	return s
}
