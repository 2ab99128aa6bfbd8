// Package contextgather collects what the coding agent needs to know
// before it starts, since it works from one prompt and cannot ask: the
// issue and the comments of people who may write to the repository, the
// issues and pull requests they link to, related issues, the repository's
// guidelines for contributors and agents, its languages and layout, and the
// files the change most likely touches.
//
// Everything that comes from GitHub passes Sanitize, so the agent never
// reads what the people on GitHub could not see (HTML comments, invisible
// characters), and text by people without write access is marked with
// Untrusted, so the agent takes it as data rather than as orders.
// Material keeps what was gathered as plain data; the prompt is assembled
// from it separately, within a token budget.
//
// What is read from a checkout (guidelines, the files Locate ranks, the
// code the prompt shows) may go to the model, so a checkout must not reach
// outside the repository: a repository may hold a link to /proc/self/environ
// or to the bot's configuration. The pipeline's checkout is exported with
// regular files only; a directory given on the command line is opened with
// os.OpenRoot, whose FS refuses links that leave it.
package contextgather
