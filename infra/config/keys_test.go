package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestObjectKeys pins the keys of the config's objects, which come from the
// args types' pulumi tags.
func TestObjectKeys(t *testing.T) {
	assert.Equal(t, []string{"chart", "env", "image", "manifests", "name", "port", "readinessPath", "replicas", "resources"}, appKeys())
	assert.Equal(t, []string{"accessTokenSecret", "branch", "directory", "repository", "resyncInterval", "serviceAccount", "targetStack"}, gitOpsKeys())
	assert.Equal(t, []string{"annotations", "args", "backoffLimit", "command", "env", "image", "manifest", "name", "rerun", "resources", "timeout", "wave"}, jobKeys())
}
