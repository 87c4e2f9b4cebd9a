// Module tools/images builds the OCI images the real node's end-to-end tests
// run, without a registry: the pod sandbox (pause), an app with a real
// readiness endpoint and /version, a migration against PostgreSQL and a smoke
// test through the app's Service. It is never part of go.work.
module github.com/pulumi-jobs/pulumi-jobs/tools/images

go 1.26.0

require (
	github.com/google/go-containerregistry v0.20.7
	github.com/lib/pq v1.12.3
)

require (
	github.com/containerd/stargz-snapshotter/estargz v0.18.1 // indirect
	github.com/klauspost/compress v1.18.1 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
	github.com/vbatts/tar-split v0.12.2 // indirect
	golang.org/x/sync v0.18.0 // indirect
)
