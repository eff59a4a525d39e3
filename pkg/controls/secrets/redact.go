package secrets

import (
	"regexp"
	"strings"
)

var (
	// yamlPair is "key: value", possibly a list item.
	yamlPair = regexp.MustCompile(`^\s*(?:-\s+)?["']?([A-Za-z0-9_.\-]+)["']?\s*:\s+(.*?)\s*$`)
	// envPair is NAME=value, as environment, Dockerfile ENV and ARG,
	// and command lines write it; several may share a line.
	envPair = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_.\-]*)=("[^"]*"|'[^']*'|[^\s"']+)`)
)

// RedactLines splits a source file into lines with every credential the
// rule set, a URL or a credential-like name with a literal value shows
// replaced by Redact, for reports that quote source lines. An
// environment variable's name is on the line before its value (name:,
// then value:).
func RedactLines(text string) []string {
	lines := strings.Split(text, "\n")
	for _, l := range ScanText(text) {
		// a secret may span lines (a PEM block): each line's part goes
		for k, part := range strings.Split(l.Secret, "\n") {
			i, part := l.Index-1+k, strings.TrimSpace(part)
			if i >= 0 && i < len(lines) && part != "" {
				lines[i] = strings.ReplaceAll(lines[i], part, Redact(part))
			}
		}
	}
	lastName := ""
	for i, line := range lines {
		var pairs []Pair
		if m := yamlPair.FindStringSubmatch(line); m != nil {
			name, value := m[1], strings.Trim(m[2], `"'`)
			if name == "name" {
				lastName = value
			} else if name == "value" && lastName != "" {
				name = lastName
			}
			pairs = append(pairs, Pair{name, value})
		}
		for _, m := range envPair.FindAllStringSubmatch(line, -1) {
			pairs = append(pairs, Pair{m[1], strings.Trim(m[2], `"'`)})
		}
		for _, p := range pairs {
			if p.Value == "" {
				continue
			}
			if m := urlCredentials.FindString(p.Value); m != "" {
				lines[i] = strings.ReplaceAll(lines[i], m, Redact(m))
			} else if literal(p.Name, p.Value) {
				lines[i] = strings.ReplaceAll(lines[i], p.Value, Redact(p.Value))
			}
		}
	}
	return lines
}
