//go:build !linux || !amd64

package capture

// Run says the tracer does not run here.
func Run(ethtool, dev string, words []string) (Result, error) { return Result{}, ErrUnsupported }
