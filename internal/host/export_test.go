package host

// NewRootFSUserspace is NewRootFS resolving paths without openat2, as on a
// kernel older than 5.6.
func NewRootFSUserspace(dir string) *RootFS {
	r := NewRootFS(dir)
	r.userspace = true
	return r
}
