package image

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
)

// PullSecrets is a keychain of image pull secrets, as the kubelet reads
// them (kubernetes.io/dockerconfigjson and the older dockercfg), tried
// before the Docker configuration of the machine.
func PullSecrets(secrets []*corev1.Secret) (authn.Keychain, error) {
	var files []*configfile.ConfigFile
	for _, s := range secrets {
		var data []byte
		switch s.Type {
		case corev1.SecretTypeDockerConfigJson:
			data = s.Data[corev1.DockerConfigJsonKey]
		case corev1.SecretTypeDockercfg:
			// the old format is the auths map alone
			var auths map[string]types.AuthConfig
			if err := json.Unmarshal(s.Data[corev1.DockerConfigKey], &auths); err != nil {
				return nil, fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err)
			}
			data, _ = json.Marshal(map[string]any{"auths": auths})
		default:
			continue
		}
		cf, err := config.LoadFromReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err)
		}
		files = append(files, cf)
	}
	return authn.NewMultiKeychain(secretsKeychain(files), authn.DefaultKeychain), nil
}

type secretsKeychain []*configfile.ConfigFile

func (k secretsKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	for _, cf := range k {
		for _, key := range []string{target.String(), target.RegistryStr()} {
			if key == name.DefaultRegistry {
				key = authn.DefaultAuthKey
			}
			c, err := cf.GetAuthConfig(key)
			if err != nil {
				return nil, err
			}
			if c.Username != "" || c.Password != "" || c.Auth != "" || c.IdentityToken != "" || c.RegistryToken != "" {
				return authn.FromConfig(authn.AuthConfig{Username: c.Username, Password: c.Password, Auth: c.Auth,
					IdentityToken: c.IdentityToken, RegistryToken: c.RegistryToken}), nil
			}
		}
	}
	return authn.Anonymous, nil
}
