package config

import "time"

// BackupConfig configures the backup controls (BACKUP-*).
type BackupConfig struct {
	// RecoveryWindow is how far back a restore must be able to go:
	// backups kept for less are BACKUP-TTL-SHORT. Default 7d.
	RecoveryWindow Duration `yaml:"recoveryWindow"`
	// RestoreTested is how recent the last successful restore must be
	// (BACKUP-RESTORE-UNTESTED). Default 90d.
	RestoreTested Duration `yaml:"restoreTested"`
	// StaleFactor: a schedule's last good backup older than this many of
	// its intervals is BACKUP-STALE. Default 2.
	StaleFactor float64 `yaml:"staleFactor"`
}

// Backup returns the backup settings with their defaults.
func (c *Config) Backup() BackupConfig {
	var b BackupConfig
	if c != nil {
		b = c.BackupSettings
	}
	return b.WithDefaults()
}

// WithDefaults fills in the settings left unset.
func (b BackupConfig) WithDefaults() BackupConfig {
	if b.RecoveryWindow.Duration == 0 {
		b.RecoveryWindow.Duration = 7 * 24 * time.Hour
	}
	if b.RestoreTested.Duration == 0 {
		b.RestoreTested.Duration = 90 * 24 * time.Hour
	}
	if b.StaleFactor == 0 {
		b.StaleFactor = 2
	}
	return b
}
