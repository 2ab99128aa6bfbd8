// Package githubtest is an in-process fake of GitHub for tests and
// benchmarks. It speaks GitHub's REST wire format (field names, status
// codes, headers) for the endpoints the bot calls, serves real git over
// smart HTTP through `git http-backend`, and records what it was asked so
// tests can assert on it.
//
// The bot's real clients are pointed at it by base URL: APIURL is
// URL()+"/api/v3/", the GitHub Enterprise layout, so nothing can get away
// with assuming api.github.com. Only 127.0.0.1 is ever listened on.
//
// # Authentication
//
// /app and /app/installations/... take the App's JWT (RS256, signed with
// PrivateKeyPEM, iss = AppID). Every other API endpoint takes an
// installation token the fake issued, as "token X" or "Bearer X". Git
// takes HTTP basic auth whose password (or, failing that, user name) is
// such a token; the user name is not checked, as on GitHub.
//
// A token may be scoped at creation to repositories and permissions, as
// GitHub allows; the fake then refuses other repositories with 404 and
// missing permissions with 403 "Resource not accessible by integration".
// A git push needs contents:write. A token asked without permissions has
// them all.
//
// # Choices where GitHub's behaviour is not written down
//
//   - Collaborator permission: a login the fake has never seen (through
//     AddUser, SetPermission, AddIssue, AddPullRequest, AddComment, a
//     repository owner or Adapt) answers 404, as GitHub does for a user
//     that does not exist. A known user without a role answers 200 with
//     "read" on a public repository (GitHub grants read to everyone there)
//     and "none" on a private one. The owner of a repository is admin.
//   - Git always needs a token, even for a public repository (GitHub lets
//     anyone fetch those); the bot never fetches anonymously.
//   - GET /repos/{o}/{r}/pulls ignores a head filter without "owner:", as
//     GitHub does silently.
//   - GET .../commits/{ref}/check-runs lists, unless filter=all, only the
//     newest run of each name, as we read GitHub's default filter=latest.
//   - Check run summary and text are limited both to 65535 characters
//     ("Invalid request.") and to 65535 bytes ("Validation Failed"),
//     because GitHub has answered with each.
//   - Languages: GET /repos/{o}/{r}/languages reports what SetLanguages
//     set, and {} (as GitHub does for an empty repository) until then; the
//     fake does not run linguist over the files.
//   - The core rate limit is reported but never runs out. The search limit
//     does: each search spends one, and at zero search answers 403 with
//     X-RateLimit-Remaining: 0. It never refills by itself.
//
// # Patterns
//
// Fail, SecondaryRateLimit, Slow, Stall and Count take a method ("" for
// any) and a path pattern in the style of Go 1.22's ServeMux: literal
// segments, {name} for one segment, and a final {name...} for the rest.
// API paths are written without the /api/v3 prefix
// ("/repos/{owner}/{repo}/pulls"); git paths start with /git
// ("/git/{owner}/{repo}/{rest...}").
package githubtest
