package vulndb

import (
	"cmp"
	"slices"
	"strings"

	"github.com/google/osv-scalibr/enricher/vulnmatch/osvlocal"
	"github.com/google/osv-scalibr/semantic"
	osvpb "github.com/ossf/osv-schema/bindings/go/osvschema"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"

	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/image"
)

// Match is one vulnerability of one package: the records that describe
// it (an advisory and its aliases: CVE, GHSA, DSA) folded together.
type Match struct {
	Package *image.Package
	// ID is the vulnerability's name: its CVE when it has one.
	ID      string
	Aliases []string
	Summary string
	// Fixed is the lowest version that fixes it ("" when none is known).
	Fixed string
	// Severity is from the highest CVSS base score of the records, else
	// the ecosystem's own rating; Rated is false when no record rates it.
	Severity finding.Severity
	Rated    bool
	Score    float64
	Vector   string
	// URL is the first advisory link.
	URL string
}

// Matches finds the vulnerabilities of packages. Matching is the OSV
// reference matcher's (each ecosystem's version order, distribution
// releases, withdrawn records); the database only narrows the records
// it reads to those naming the package.
func (db *DB) Matches(pkgs []*image.Package) ([]Match, error) {
	var out []Match
	for _, p := range pkgs {
		if p.InOSPackage {
			continue
		}
		var cands []*osvpb.Vulnerability
		for _, name := range lookupNames(p) {
			vs, err := db.Lookup(p.Ecosystem, name)
			if err != nil {
				return nil, err
			}
			cands = append(cands, vs...)
		}
		if len(cands) == 0 {
			continue
		}
		hit := osvlocal.VulnerabilitiesAffectingPackage(cands, p.Raw())
		for _, g := range group(hit) {
			out = append(out, describe(p, g))
		}
	}
	return out, nil
}

func lookupNames(p *image.Package) []string {
	names := []string{p.Name}
	if p.Source != "" {
		names = []string{p.Source}
	}
	if raw := p.Raw(); raw != nil && raw.Name != names[0] {
		names = append(names, raw.Name)
	}
	return names
}

// group folds records that name each other (aliases, upstream) into one
// vulnerability.
func group(vs []*osvpb.Vulnerability) [][]*osvpb.Vulnerability {
	parent := make([]int, len(vs))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		if parent[i] != i {
			parent[i] = find(parent[i])
		}
		return parent[i]
	}
	owner := map[string]int{}
	for i, v := range vs {
		for _, id := range append(append([]string{v.GetId()}, v.GetAliases()...), v.GetUpstream()...) {
			if j, ok := owner[id]; ok {
				parent[find(i)] = find(j)
			} else {
				owner[id] = i
			}
		}
	}
	byRoot := map[int][]*osvpb.Vulnerability{}
	var roots []int
	for i, v := range vs {
		r := find(i)
		if _, ok := byRoot[r]; !ok {
			roots = append(roots, r)
		}
		byRoot[r] = append(byRoot[r], v)
	}
	out := make([][]*osvpb.Vulnerability, 0, len(roots))
	for _, r := range roots {
		out = append(out, byRoot[r])
	}
	return out
}

func describe(p *image.Package, g []*osvpb.Vulnerability) Match {
	m := Match{Package: p}
	ids := map[string]bool{}
	for _, v := range g {
		ids[v.GetId()] = true
		for _, a := range v.GetAliases() {
			ids[a] = true
		}
		for _, a := range v.GetUpstream() {
			ids[a] = true
		}
	}
	all := make([]string, 0, len(ids))
	for id := range ids {
		all = append(all, id)
	}
	slices.SortFunc(all, func(a, b string) int {
		return cmp.Or(cmp.Compare(idRank(a), idRank(b)), cmp.Compare(a, b))
	})
	m.ID, m.Aliases = all[0], all[1:]
	slices.SortFunc(g, func(a, b *osvpb.Vulnerability) int { return cmp.Compare(a.GetId(), b.GetId()) })
	for _, v := range g {
		if m.Summary == "" {
			m.Summary = firstLine(cmp.Or(v.GetSummary(), v.GetDetails()))
		}
		if m.URL == "" && len(v.GetReferences()) > 0 {
			m.URL = v.GetReferences()[0].GetUrl()
		}
		rate(&m, v.GetSeverity())
		for _, a := range affectedFor(v, p) {
			rate(&m, a.GetSeverity())
			if s := stringField(a.GetEcosystemSpecific().GetFields()["severity"]); s != "" {
				rateWord(&m, s)
			}
		}
		if ds := v.GetDatabaseSpecific().GetFields()["severity"]; ds != nil {
			rateWord(&m, stringField(ds))
		}
	}
	if !m.Rated {
		m.Severity = finding.Medium
	}
	m.Fixed = fixed(p, g)
	return m
}

// idRank puts CVE IDs first: they are what people search for.
func idRank(id string) int {
	switch {
	case strings.HasPrefix(id, "CVE-"):
		return 0
	case strings.HasPrefix(id, "GHSA-"):
		return 1
	}
	return 2
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

func affectedFor(v *osvpb.Vulnerability, p *image.Package) []*osvpb.Affected {
	var out []*osvpb.Affected
	want := Key(p.Ecosystem, lookupNames(p)[0])
	for _, a := range v.GetAffected() {
		if Key(a.GetPackage().GetEcosystem(), a.GetPackage().GetName()) == want {
			out = append(out, a)
		}
	}
	return out
}

// rate keeps the highest CVSS base score of a list of severities. A
// score the ecosystem rates in words only counts while no vector does.
func rate(m *Match, sevs []*osvpb.Severity) {
	for _, s := range sevs {
		var score float64
		switch s.GetType() {
		case osvpb.Severity_CVSS_V3:
			if strings.HasPrefix(s.GetScore(), "CVSS:3.0/") {
				v, err := gocvss30.ParseVector(s.GetScore())
				if err != nil {
					continue
				}
				score = v.BaseScore()
			} else {
				v, err := gocvss31.ParseVector(s.GetScore())
				if err != nil {
					continue
				}
				score = v.BaseScore()
			}
		case osvpb.Severity_CVSS_V4:
			v, err := gocvss40.ParseVector(s.GetScore())
			if err != nil {
				continue
			}
			score = v.Score()
		case osvpb.Severity_Ubuntu:
			rateWord(m, s.GetScore())
			continue
		default:
			continue
		}
		if m.Vector == "" || score > m.Score {
			m.Score, m.Vector = score, s.GetScore()
			m.Severity, m.Rated = fromScore(score), true
		}
	}
}

// rateWord takes an ecosystem's rating ("moderate", "high") when no CVSS
// vector rated the vulnerability.
func rateWord(m *Match, word string) {
	if m.Vector != "" {
		return
	}
	var s finding.Severity
	switch strings.ToLower(word) {
	case "critical":
		s = finding.Critical
	case "high", "important":
		s = finding.High
	case "medium", "moderate":
		s = finding.Medium
	case "low":
		s = finding.Low
	case "negligible", "unimportant":
		s = finding.Info
	default:
		return
	}
	if !m.Rated || s > m.Severity {
		m.Severity, m.Rated = s, true
	}
}

// fromScore is the CVSS qualitative rating scale (v3.1 section 5, v4.0
// section 6): none is info.
func fromScore(s float64) finding.Severity {
	switch {
	case s >= 9:
		return finding.Critical
	case s >= 7:
		return finding.High
	case s >= 4:
		return finding.Medium
	case s > 0:
		return finding.Low
	}
	return finding.Info
}

func stringField(v interface{ GetStringValue() string }) string {
	if v == nil {
		return ""
	}
	return v.GetStringValue()
}

// fixed is the lowest fixed version above the installed one among the
// records' ranges for the package.
func fixed(p *image.Package, g []*osvpb.Vulnerability) string {
	eco, _, _ := strings.Cut(p.Ecosystem, ":")
	installed, err := semantic.Parse(p.Version, eco)
	if err != nil {
		return ""
	}
	var best string
	var bestV semantic.Version
	for _, v := range g {
		for _, a := range affectedFor(v, p) {
			for _, r := range a.GetRanges() {
				for _, e := range r.GetEvents() {
					f := e.GetFixed()
					if f == "" {
						continue
					}
					fv, err := semantic.Parse(f, eco)
					if err != nil {
						continue
					}
					if c, err := installed.CompareStr(f); err != nil || c >= 0 {
						continue
					}
					if best == "" {
						best, bestV = f, fv
						continue
					}
					if c, err := bestV.CompareStr(f); err == nil && c > 0 {
						best, bestV = f, fv
					}
				}
			}
		}
	}
	return best
}
