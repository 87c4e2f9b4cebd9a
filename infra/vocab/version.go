package vocab

// Version is the version of pulumi-jobs: of the component provider plugin
// (pulumi-resource-pulumi-jobs), its schema and the SDKs generated from it.
// It is the one source: the Makefile reads it from this line, and a
// resource of the package that a release registers asks the engine for
// the plugin of this version.
const Version = "0.4.0"
