package githubtest

// The fake's own git environment and file writer, for the external tests,
// so they run git and lay out files exactly as the fake does.
var (
	GitEnv     = gitEnv
	WriteFiles = writeFiles
)
