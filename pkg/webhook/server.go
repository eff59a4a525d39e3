package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ServerOptions configure Serve.
type ServerOptions struct {
	Handler *Handler
	TLS     *tls.Config
	// Ready reports whether the server should receive traffic (the live
	// inventory has synced); nil means always.
	Ready    func() bool
	Gatherer prometheus.Gatherer
	Logger   *slog.Logger
	// ShutdownGrace bounds how long in-flight requests may take to finish
	// after the context ends.
	ShutdownGrace time.Duration
}

// Mux returns the routes: /validate, /mutate, /healthz, /readyz and
// /metrics.
func Mux(o ServerOptions) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/validate", o.Handler.Validate())
	mux.Handle("/mutate", o.Handler.Mutate())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if o.Ready != nil && !o.Ready() {
			http.Error(w, "cluster inventory not synced", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	if o.Gatherer != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{}))
	}
	return mux
}

// Serve answers on l until ctx ends, then stops accepting connections and
// waits for in-flight requests (graceful shutdown on SIGTERM: the API
// server never sees a dropped call from a rolling update).
func Serve(ctx context.Context, l net.Listener, o ServerOptions) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 30 * time.Second
	}
	srv := &http.Server{
		Handler:           Mux(o),
		TLSConfig:         o.TLS,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
		// HTTP/1.1 only: the API server calls admission webhooks over
		// HTTP/1.1 with a connection per concurrent request (so that load
		// spreads over replicas), and HTTP/2 would only add attack surface
		// (rapid reset, CVE-2023-44487).
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	errc := make(chan error, 1)
	go func() {
		if o.TLS != nil {
			errc <- srv.ServeTLS(l, "", "")
		} else {
			errc <- srv.Serve(l)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	o.Logger.Info("shutting down; finishing in-flight requests", "grace", o.ShutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), o.ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}
