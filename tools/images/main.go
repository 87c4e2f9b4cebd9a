// Command images builds the real node's test images into one OCI image
// archive (docker-archive layout, which `ctr images import` reads) without a
// registry: each image is one layer holding the static Go binaries of
// ./cmd, plus a config with OS linux, the machine's architecture, an
// entrypoint, environment and a numeric user.
//
//	go run . -out images.tar
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Image is one image of the archive.
type Image struct {
	// Ref is its name and tag.
	Ref string
	// Programs are the commands of ./cmd it holds, at /app/<name>.
	Programs []string
	// Entrypoint is its entrypoint.
	Entrypoint []string
	// Env is its environment, KEY=value.
	Env []string
	// User is its user: numeric, or "" for root.
	User string
}

// NonRoot is the numeric user of the images that do not run as root.
const NonRoot = "65532"

// Images are the images the real node's tests use.
var Images = []Image{
	{Ref: "pulumi-jobs.local/pause:v1", Programs: []string{"pause"}, Entrypoint: []string{"/app/pause"}, User: "65535"},
	{Ref: "pulumi-jobs.local/app:v1", Programs: []string{"app"}, Entrypoint: []string{"/app/app"}, Env: []string{"APP_VERSION=v1", "APP_SCHEMA=1"}, User: NonRoot},
	{Ref: "pulumi-jobs.local/app:v2", Programs: []string{"app"}, Entrypoint: []string{"/app/app"}, Env: []string{"APP_VERSION=v2", "APP_SCHEMA=2"}, User: NonRoot},
	{Ref: "pulumi-jobs.local/migrate:v1", Programs: []string{"migrate"}, Entrypoint: []string{"/app/migrate"}, User: NonRoot},
	// A migration image that runs as root, as many public images do: the
	// restricted Pod Security fields refuse to start it.
	{Ref: "pulumi-jobs.local/migrate:root", Programs: []string{"migrate"}, Entrypoint: []string{"/app/migrate"}, User: ""},
	{Ref: "pulumi-jobs.local/smoke:v1", Programs: []string{"smoke"}, Entrypoint: []string{"/app/smoke"}, User: NonRoot},
}

func main() {
	out := flag.String("out", "images.tar", "the image archive to write")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	dir, err := os.MkdirTemp("", "pulumi-jobs-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	built := map[string]string{}
	refs := map[name.Reference]v1.Image{}
	for _, im := range Images {
		files := map[string]string{}
		for _, p := range im.Programs {
			if built[p] == "" {
				bin := filepath.Join(dir, p)
				cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/"+p)
				cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
				cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
				if err := cmd.Run(); err != nil {
					return fmt.Errorf("building ./cmd/%s: %w", p, err)
				}
				built[p] = bin
			}
			files["app/"+p] = built[p]
		}
		img, err := Build(im, files)
		if err != nil {
			return fmt.Errorf("%s: %w", im.Ref, err)
		}
		tag, err := name.NewTag(im.Ref, name.StrictValidation)
		if err != nil {
			return fmt.Errorf("%s: %w", im.Ref, err)
		}
		refs[tag] = img
	}
	tmp := out + ".tmp"
	if err := tarball.MultiRefWriteToFile(tmp, refs); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return os.Rename(tmp, out)
}

// Build returns the image im whose one layer holds files (path in the image
// → file on disk), each executable, under directories app/ and tmp/.
func Build(im Image, files map[string]string) (v1.Image, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	for _, d := range []struct {
		name string
		mode int64
	}{{"app/", 0o755}, {"tmp/", 0o1777}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	for _, path := range slices.Sorted(maps.Keys(files)) {
		b, err := os.ReadFile(files[path])
		if err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: path, Mode: 0o755, Size: int64(len(b)), ModTime: epoch}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(b); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layerBytes := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("making the layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("adding the layer: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS = "linux"
	cfg.Architecture = runtime.GOARCH
	cfg.Created = v1.Time{Time: epoch}
	cfg.Config.Entrypoint = im.Entrypoint
	cfg.Config.Env = append([]string{"PATH=/app"}, im.Env...)
	cfg.Config.User = im.User
	cfg.Config.WorkingDir = "/app"
	return mutate.ConfigFile(img, cfg)
}
