package driver

import (
	"io"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
)

func optPreviewProgress(w io.Writer, ch chan<- events.EngineEvent) []optpreview.Option {
	return []optpreview.Option{optpreview.ProgressStreams(w), optpreview.EventStreams(ch), optpreview.Color("never")}
}

func optUpProgress(w io.Writer, ch chan<- events.EngineEvent) []optup.Option {
	return []optup.Option{optup.ProgressStreams(w), optup.EventStreams(ch), optup.Color("never")}
}

func optDestroyProgress(w io.Writer, ch chan<- events.EngineEvent) []optdestroy.Option {
	return []optdestroy.Option{optdestroy.ProgressStreams(w), optdestroy.EventStreams(ch), optdestroy.Color("never")}
}

func optRefreshProgress(w io.Writer, ch chan<- events.EngineEvent) []optrefresh.Option {
	return []optrefresh.Option{optrefresh.ProgressStreams(w), optrefresh.EventStreams(ch), optrefresh.Color("never")}
}
