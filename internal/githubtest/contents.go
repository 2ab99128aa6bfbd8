package githubtest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// These endpoints read the bare repository with git on every call and
// hold no lock meanwhile, so a push between two calls is seen at once.

// getBranch answers GET /repos/{owner}/{repo}/branches/{branch}.
func (s *Server) getBranch(w http.ResponseWriter, r *http.Request, c *call) {
	branch := r.PathValue("branch")
	sha, err := resolve(c.repo.dir, "refs/heads/"+branch)
	if !found(w, err, sha != "", "Branch not found") {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name":      branch,
		"commit":    s.commitRef(c.repo, sha),
		"protected": false,
		"_links": map[string]any{
			"self": s.APIURL() + "repos/" + c.repo.FullName + "/branches/" + branch,
			"html": s.URL() + "/" + c.repo.FullName + "/tree/" + branch,
		},
	})
}

// getRef answers GET /repos/{owner}/{repo}/git/ref/{ref}, such as
// heads/main.
func (s *Server) getRef(w http.ResponseWriter, r *http.Request, c *call) {
	ref := "refs/" + r.PathValue("ref")
	out, err := bareGit(c.repo.dir, "for-each-ref", "--format=%(refname) %(objectname) %(objecttype)", ref)
	var sha, kind string
	// for-each-ref also lists refs below ref; only an exact match counts.
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == ref {
			sha, kind = f[1], f[2]
		}
	}
	if !found(w, err, sha != "", "Not Found") {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ref":     ref,
		"node_id": "REF_" + sha[:12],
		"url":     s.APIURL() + "repos/" + c.repo.FullName + "/git/" + ref,
		"object": map[string]any{
			"sha":  sha,
			"type": kind,
			"url":  s.APIURL() + "repos/" + c.repo.FullName + "/git/" + kind + "s/" + sha,
		},
	})
}

// getCommit answers GET /repos/{owner}/{repo}/commits/{ref}. With the sha
// media type it answers the bare ID as text, and 304 when it is the one
// in If-None-Match, as go-github's GetCommitSHA1 expects.
func (s *Server) getCommit(w http.ResponseWriter, r *http.Request, c *call) {
	ref := r.PathValue("ref")
	sha, err := resolve(c.repo.dir, ref)
	if err == nil && sha == "" {
		writeError(w, http.StatusUnprocessableEntity, "No commit found for SHA: "+ref)
		return
	}
	if !gitOK(w, err) {
		return
	}
	if strings.Contains(r.Header.Get("Accept"), ".sha") {
		w.Header().Set("ETag", strconv.Quote(sha))
		if r.Header.Get("If-None-Match") == strconv.Quote(sha) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.github.sha; charset=utf-8")
		fmt.Fprint(w, sha)
		return
	}
	out, err := bareGit(c.repo.dir, "show", "--no-patch", "--format=%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B", sha)
	f := strings.SplitN(string(out), "\x00", 9)
	if !found(w, err, len(f) == 9, "Not Found") {
		return
	}
	parents := []any{}
	for _, p := range strings.Fields(f[1]) {
		parents = append(parents, s.commitRef(c.repo, p))
	}
	body := s.commitRef(c.repo, sha)
	body["node_id"] = "C_" + sha[:12]
	body["html_url"] = s.URL() + "/" + c.repo.FullName + "/commit/" + sha
	body["parents"] = parents
	body["commit"] = map[string]any{
		"message":   strings.TrimRight(f[8], "\n"),
		"tree":      map[string]any{"sha": f[0]},
		"author":    map[string]any{"name": f[2], "email": f[3], "date": f[4]},
		"committer": map[string]any{"name": f[5], "email": f[6], "date": f[7]},
	}
	writeJSON(w, http.StatusOK, body)
}

// getContents answers GET /repos/{owner}/{repo}/contents/{path}?ref=X: a
// file as base64, or a directory as a list of entries.
func (s *Server) getContents(w http.ResponseWriter, r *http.Request, c *call) {
	path := strings.Trim(r.PathValue("path"), "/")
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		s.mu.Lock()
		ref = c.repo.DefaultBranch
		s.mu.Unlock()
	}
	sha, err := resolve(c.repo.dir, ref)
	if !found(w, err, sha != "", "No commit found for the ref "+ref) {
		return
	}
	if path == "" {
		s.serveDir(w, c.repo, sha, "", ref)
		return
	}
	entries, err := lsTree(c.repo.dir, sha, path)
	if !found(w, err, len(entries) == 1, "Not Found") {
		return
	}
	e := entries[0]
	switch e.kind {
	case "tree":
		s.serveDir(w, c.repo, sha, path, ref)
		return
	case "commit": // a submodule has no content to give
		writeJSON(w, http.StatusOK, s.entryJSON(c.repo, e, ref))
		return
	}
	content, err := bareGit(c.repo.dir, "cat-file", "blob", e.sha)
	if !gitOK(w, err) {
		return
	}
	body := s.entryJSON(c.repo, e, ref)
	if e.mode == "120000" {
		body["target"] = string(content)
	} else {
		body["encoding"] = "base64"
		body["content"] = wrapBase64(content)
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) serveDir(w http.ResponseWriter, repo *Repo, commit, path, ref string) {
	tree := commit + "^{tree}"
	if path != "" {
		tree = commit + ":" + path
	}
	entries, err := lsTree(repo.dir, tree, "")
	if !gitOK(w, err) {
		return
	}
	out := []any{}
	for _, e := range entries {
		if path != "" {
			e.path = path + "/" + e.path
		}
		out = append(out, s.entryJSON(repo, e, ref))
	}
	writeJSON(w, http.StatusOK, out)
}

// treeEntry is one line of git ls-tree --long.
type treeEntry struct {
	mode, kind, sha, path string
	size                  int64
}

// lsTree lists tree, or only path in it when path is set.
func lsTree(dir, tree, path string) ([]treeEntry, error) {
	args := []string{"ls-tree", "-z", "--long", "--end-of-options", tree}
	if path != "" {
		args = append(args, "--", path)
	}
	out, err := bareGit(dir, args...)
	if err != nil {
		return nil, err
	}
	var entries []treeEntry
	for _, line := range bytes.Split(out, []byte{0}) {
		meta, path, ok := strings.Cut(string(line), "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 4 {
			continue
		}
		size, _ := strconv.ParseInt(f[3], 10, 64) // "-" for trees
		entries = append(entries, treeEntry{mode: f[0], kind: f[1], sha: f[2], path: path, size: size})
	}
	return entries, nil
}

// entryJSON is GitHub's content object for e, without content.
func (s *Server) entryJSON(repo *Repo, e treeEntry, ref string) map[string]any {
	kind := map[string]string{"blob": "file", "tree": "dir", "commit": "submodule"}[e.kind]
	if e.mode == "120000" {
		kind = "symlink"
	}
	name := e.path[strings.LastIndex(e.path, "/")+1:]
	api := s.APIURL() + "repos/" + repo.FullName
	return map[string]any{
		"type":         kind,
		"name":         name,
		"path":         e.path,
		"sha":          e.sha,
		"size":         e.size,
		"url":          api + "/contents/" + e.path + "?ref=" + ref,
		"html_url":     s.URL() + "/" + repo.FullName + "/blob/" + ref + "/" + e.path,
		"git_url":      api + "/git/blobs/" + e.sha,
		"download_url": nil,
	}
}

// commitRef is the short commit object branches and parents carry.
func (s *Server) commitRef(repo *Repo, sha string) map[string]any {
	return map[string]any{"sha": sha, "url": s.APIURL() + "repos/" + repo.FullName + "/commits/" + sha}
}

// gitOK answers 500 when git failed, and reports whether the handler
// should go on.
func gitOK(w http.ResponseWriter, err error) bool {
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return false
	}
	return true
}

// found answers when git failed (500) or found nothing (404), and reports
// whether the handler should go on.
func found(w http.ResponseWriter, err error, ok bool, notFound string) bool {
	if !gitOK(w, err) {
		return false
	}
	if !ok {
		writeError(w, http.StatusNotFound, notFound)
		return false
	}
	return true
}

// wrapBase64 encodes b the way GitHub does, in lines of 60 characters.
func wrapBase64(b []byte) string {
	enc := base64.StdEncoding.EncodeToString(b)
	var sb strings.Builder
	for len(enc) > 60 {
		sb.WriteString(enc[:60] + "\n")
		enc = enc[60:]
	}
	sb.WriteString(enc)
	if sb.Len() > 0 {
		sb.WriteString("\n")
	}
	return sb.String()
}
