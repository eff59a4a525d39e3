package report

import "strconv"

// appendSARIFResult writes r exactly as json.MarshalIndent(r, p, "  ")
// would (p being eight spaces, the depth of results in the log), without
// reflection or a second indentation pass: large scans write hundreds of
// thousands of results. A test holds the two to the same bytes.
func appendSARIFResult(b []byte, r *sarifResult) []byte {
	const p = "\n        "
	b = append(b, "{"+p+`  "ruleId": `...)
	b = appendString(b, r.RuleID)
	b = append(b, ","+p+`  "ruleIndex": `...)
	b = strconv.AppendInt(b, int64(r.RuleIndex), 10)
	b = append(b, ","+p+`  "level": `...)
	b = appendString(b, r.Level)
	b = append(b, ","+p+`  "message": {`+p+`    "text": `...)
	b = appendString(b, r.Message.Text)
	if r.Message.Markdown != "" {
		b = append(b, ","+p+`    "markdown": `...)
		b = appendString(b, r.Message.Markdown)
	}
	b = append(b, p+"  },"+p+`  "locations": `...)
	if len(r.Locations) == 0 {
		b = append(b, "[]"...)
	} else {
		b = append(b, '[')
		for i, l := range r.Locations {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendSARIFLocation(b, &l)
		}
		b = append(b, p+"  ]"...)
	}
	if len(r.Related) > 0 {
		b = append(b, ","+p+`  "relatedLocations": [`...)
		for i, rl := range r.Related {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, p+"    {"+p+`      "id": `...)
			b = strconv.AppendInt(b, int64(rl.ID), 10)
			b = append(b, ","+p+`      "message": {`+p+`        "text": `...)
			b = appendString(b, rl.Message.Text)
			b = append(b, p+"      }"+p+"    }"...)
		}
		b = append(b, p+"  ]"...)
	}
	if len(r.Suppressions) > 0 {
		b = append(b, ","+p+`  "suppressions": [`...)
		for i, s := range r.Suppressions {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, p+"    {"+p+`      "kind": `...)
			b = appendString(b, s.Kind)
			if s.Justification != "" {
				b = append(b, ","+p+`      "justification": `...)
				b = appendString(b, s.Justification)
			}
			b = append(b, p+"    }"...)
		}
		b = append(b, p+"  ]"...)
	}
	if r.BaselineState != "" {
		b = append(b, ","+p+`  "baselineState": `...)
		b = appendString(b, r.BaselineState)
	}
	b = append(b, ","+p+`  "partialFingerprints": {`+p+`    "kubeguard/v1": `...)
	b = appendString(b, r.PartialFingerprints.Primary)
	b = append(b, p+"  },"...)
	pr := &r.Properties
	b = append(b, p+`  "properties": {`...)
	if pr.Container != "" {
		b = append(b, p+`    "container": `...)
		b = appendString(b, pr.Container)
		b = append(b, ',')
	}
	if len(pr.Controls) > 0 {
		b = append(b, p+`    "controls": [`...)
		for i, id := range pr.Controls {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, p+"      "...)
			b = appendString(b, id)
		}
		b = append(b, p+"    ],"...)
	}
	b = append(b, p+`    "object": {`...)
	o := &pr.Object
	b = appendRef(b, p+"      ", o.APIVersion, o.Kind, o.Namespace, o.Name)
	b = append(b, p+"    },"...)
	if pr.Origin != "" {
		b = append(b, p+`    "origin": `...)
		b = appendString(b, pr.Origin)
		b = append(b, ',')
	}
	b = append(b, p+`    "path": `...)
	b = appendString(b, pr.Path)
	b = append(b, ","+p+`    "severity": `...)
	b = appendString(b, pr.Severity)
	return append(b, p+"  }"+p+"}"...)
}

// appendSARIFLocation writes a location of a result.
func appendSARIFLocation(b []byte, l *sarifLocation) []byte {
	const p = "\n        "
	b = append(b, p+"    {"...)
	if l.PhysicalLocation == nil && len(l.LogicalLocations) == 0 {
		return append(b[:len(b)-1], "{}"...)
	}
	if ph := l.PhysicalLocation; ph != nil {
		b = append(b, p+`      "physicalLocation": {`+p+`        "artifactLocation": {`+p+`          "uri": `...)
		b = appendString(b, ph.ArtifactLocation.URI)
		b = append(b, p+"        }"...)
		if rg := ph.Region; rg != nil {
			b = append(b, ","+p+`        "region": {`+p+`          "startLine": `...)
			b = strconv.AppendInt(b, int64(rg.StartLine), 10)
			if rg.StartColumn != 0 {
				b = append(b, ","+p+`          "startColumn": `...)
				b = strconv.AppendInt(b, int64(rg.StartColumn), 10)
			}
			b = append(b, p+"        }"...)
		}
		b = append(b, p+"      }"...)
		if len(l.LogicalLocations) > 0 {
			b = append(b, ',')
		}
	}
	if len(l.LogicalLocations) > 0 {
		b = append(b, p+`      "logicalLocations": [`...)
		for i, ll := range l.LogicalLocations {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, p+"        {"+p+`          "fullyQualifiedName": `...)
			b = appendString(b, ll.FullyQualifiedName)
			b = append(b, ","+p+`          "kind": `...)
			b = appendString(b, ll.Kind)
			b = append(b, p+"        }"...)
		}
		b = append(b, p+"      ]"...)
	}
	return append(b, p+"    }"...)
}
