package audit

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Store keeps a baseline between runs.
type Store interface {
	// Load returns the stored baseline, or an empty one when none is.
	Load(ctx context.Context, o BaselineOptions) (*Baseline, error)
	Save(ctx context.Context, b *Baseline) error
	String() string
}

// FileStore keeps a baseline in a gzipped JSON file, replaced
// atomically.
type FileStore string

func (f FileStore) String() string { return string(f) }

func (f FileStore) Load(_ context.Context, o BaselineOptions) (*Baseline, error) {
	data, err := os.ReadFile(string(f))
	if errors.Is(err, os.ErrNotExist) {
		return NewBaseline(o), nil
	}
	if err != nil {
		return nil, err
	}
	b, err := decodeBaseline(data, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", f, err)
	}
	return b, nil
}

func (f FileStore) Save(_ context.Context, b *Baseline) error {
	data, err := encodeBaseline(b)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(string(f)), ".baseline-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), string(f))
}

// ConfigMapStore keeps a baseline in a ConfigMap (binaryData
// baseline.json.gz), for the receiver in a cluster: whichever replica
// leads reads it. A ConfigMap holds at most 1 MiB, some thousands of
// identities; larger baselines need a file on a volume.
type ConfigMapStore struct {
	Client          kubernetes.Interface
	Namespace, Name string
}

func (c *ConfigMapStore) String() string { return "configmap " + c.Namespace + "/" + c.Name }

const baselineKey = "baseline.json.gz"

func (c *ConfigMapStore) Load(ctx context.Context, o BaselineOptions) (*Baseline, error) {
	cm, err := c.Client.CoreV1().ConfigMaps(c.Namespace).Get(ctx, c.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return NewBaseline(o), nil
	}
	if err != nil {
		return nil, err
	}
	data, ok := cm.BinaryData[baselineKey]
	if !ok {
		return NewBaseline(o), nil
	}
	b, err := decodeBaseline(data, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", c, err)
	}
	return b, nil
}

func (c *ConfigMapStore) Save(ctx context.Context, b *Baseline) error {
	data, err := encodeBaseline(b)
	if err != nil {
		return err
	}
	if len(data) > 1000<<10 {
		return fmt.Errorf("%s: the baseline is %d KiB, more than a ConfigMap holds; keep it in a file (--baseline on a volume)", c, len(data)>>10)
	}
	cms := c.Client.CoreV1().ConfigMaps(c.Namespace)
	cm, err := cms.Get(ctx, c.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: c.Name, Namespace: c.Namespace,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "kubeguard"}}, BinaryData: map[string][]byte{baselineKey: data}}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	cm.BinaryData = map[string][]byte{baselineKey: data}
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	return err
}

func encodeBaseline(b *Baseline) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodeBaseline(data []byte, o BaselineOptions) (*Baseline, error) {
	var r io.Reader = bytes.NewReader(data)
	if len(data) > 1 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		r = zr
	}
	b := NewBaseline(o)
	b.Format = ""
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(b); err != nil {
		return nil, fmt.Errorf("not a kubeguard baseline: %v", err)
	}
	if b.Format != BaselineFormat {
		return nil, fmt.Errorf("not a kubeguard baseline (format %q, want %q)", b.Format, BaselineFormat)
	}
	if b.Identities == nil {
		b.Identities = map[string]*Profile{}
	}
	for _, p := range b.Identities {
		if p.Access == nil {
			p.Access = map[string]int64{}
		}
		p.index()
		if p.Namespaces == nil {
			p.Namespaces = map[string]int64{}
		}
		if p.Sources == nil {
			p.Sources = map[string]int64{}
		}
		if p.Agents == nil {
			p.Agents = map[string]int64{}
		}
	}
	return b, nil
}
