package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The backup settings: defaults, durations in days, and a staleness
// factor below one refused at its line.
func TestBackupSettings(t *testing.T) {
	if b := (*Config)(nil).Backup(); b.RecoveryWindow.Duration != 7*24*time.Hour || b.RestoreTested.Duration != 90*24*time.Hour || b.StaleFactor != 2 {
		t.Errorf("defaults: %+v", b)
	}
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, ".kubeguard.yaml")
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	c, err := Load(write("backup:\n  recoveryWindow: 30d\n  restoreTested: 14d\n  staleFactor: 1.5\n"))
	if err != nil {
		t.Fatal(err)
	}
	if b := c.Backup(); b.RecoveryWindow.Duration != 30*24*time.Hour || b.RestoreTested.Duration != 14*24*time.Hour || b.StaleFactor != 1.5 {
		t.Errorf("settings: %+v", b)
	}
	if _, err := Load(write("backup:\n  staleFactor: 0.5\n")); err == nil || !strings.Contains(err.Error(), "backup.staleFactor: 0.5 is below 1") || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("staleFactor below 1: %v", err)
	}
	if _, err := Load(write("backup:\n  recoveryWindow: soon\n")); err == nil {
		t.Error("a duration that does not parse is an error")
	}
}
