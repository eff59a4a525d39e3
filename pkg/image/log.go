package image

import (
	"context"
	"fmt"
	"log/slog"

	scalibrlog "github.com/google/osv-scalibr/log"
)

// The extraction library logs progress and per-file trouble to stderr;
// what matters of it reaches the user as Inventory.Warnings, so its log
// goes to slog at debug level.
func init() { scalibrlog.SetLogger(debugLogger{}) }

type debugLogger struct{}

func (debugLogger) log(msg string) {
	slog.Log(context.Background(), slog.LevelDebug, msg, "component", "osv-scalibr")
}

func (l debugLogger) Errorf(format string, args ...any) { l.log(fmt.Sprintf(format, args...)) }
func (l debugLogger) Error(args ...any)                 { l.log(fmt.Sprint(args...)) }
func (l debugLogger) Warnf(format string, args ...any)  { l.log(fmt.Sprintf(format, args...)) }
func (l debugLogger) Warn(args ...any)                  { l.log(fmt.Sprint(args...)) }
func (l debugLogger) Infof(format string, args ...any)  { l.log(fmt.Sprintf(format, args...)) }
func (l debugLogger) Info(args ...any)                  { l.log(fmt.Sprint(args...)) }
func (l debugLogger) Debugf(format string, args ...any) { l.log(fmt.Sprintf(format, args...)) }
func (l debugLogger) Debug(args ...any)                 { l.log(fmt.Sprint(args...)) }
