// Package intern keeps one copy of strings a scan builds over and over:
// the field paths checks resolve and the messages findings keep, millions
// of them out of a few thousand distinct ones.
//
// A Table is a fixed array of slots in pairs, the pair chosen by a hash of
// the string, read and written without locks: a lookup is one hash and at
// most two comparisons. A newcomer takes a free slot of its pair, or
// replaces one of the two, so that two strings whose hashes meet both stay.
// The memory is bounded whatever the input, which matters to a webhook
// that runs for months, and a string evicted that way is only built again,
// never wrong.
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

// pair returns the two slots of hash h.
func (t *Table) pair(h uint64) (a, b *atomic.Pointer[string]) {
	i := h & (slots - 1) &^ 1
	return &t.slots[i], &t.slots[i+1]
}

// Bytes returns a string equal to b, the same one for equal contents
// while it stays in the table; a string is built only when the table does
// not hold one. b may be reused once Bytes returns: formatting into one
// buffer and interning the result leaves no garbage when the text is known.
func (t *Table) Bytes(b []byte) string {
	h := maphash.Bytes(t.seed, b)
	x, y := t.pair(h)
	if p := x.Load(); p != nil && *p == string(b) {
		return *p
	}
	if p := y.Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	return t.put(h, &s)
}

// Join returns base + "." + field, built once while it stays in the
// table. base and field may alias memory that changes: the table keeps
// only the joined copy.
func (t *Table) Join(base, field string) string {
	var m maphash.Hash
	m.SetSeed(t.seed)
	m.WriteString(base)
	m.WriteByte('.')
	m.WriteString(field)
	h := m.Sum64()
	a, b := t.pair(h)
	for _, slot := range [2]*atomic.Pointer[string]{a, b} {
		if p := slot.Load(); p != nil {
			if s := *p; len(s) == len(base)+1+len(field) && s[len(base)] == '.' && s[:len(base)] == base && s[len(base)+1:] == field {
				return s
			}
		}
	}
	s := base + "." + field
	return t.put(h, &s)
}

// put adds p, which its pair did not hold, and returns the string the
// table holds for it: p, or an equal string another goroutine added at
// the same time, so that equal strings added at once are still one. p
// takes a free slot of the pair, else replaces the slot a bit of its hash
// picks.
func (t *Table) put(h uint64, p *string) string {
	a, b := t.pair(h)
	victim := a
	if h>>32&1 == 1 {
		victim = b
	}
	for {
		oa, ob := a.Load(), b.Load()
		if oa != nil && *oa == *p {
			return *oa
		}
		if ob != nil && *ob == *p {
			return *ob
		}
		slot, old := victim, oa
		switch {
		case oa == nil:
			slot = a
		case ob == nil:
			slot, old = b, nil
		case victim == b:
			old = ob
		}
		if slot.CompareAndSwap(old, p) {
			return *p
		}
	}
}
