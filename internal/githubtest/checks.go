package githubtest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of the Checks API, from GitHub's documentation.
const (
	maxOutputLength      = 65535
	maxAnnotations       = 50
	maxActions           = 3
	maxActionLabel       = 20
	maxActionDescription = 40
	maxActionIdentifier  = 20
)

var (
	checkStatuses    = []string{"queued", "in_progress", "completed"}
	checkConclusions = []string{"action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out"}
)

// CheckRun is a check run as it stands.
type CheckRun struct {
	ID          int64
	Repo        string // full name
	Name        string
	HeadSHA     string
	Status      string
	Conclusion  string
	DetailsURL  string
	ExternalID  string
	Output      CheckRunOutput
	Actions     []CheckRunAction
	StartedAt   time.Time
	CompletedAt time.Time
	// History holds the run as it stood after its creation and after each
	// update, oldest first; its entries have no History of their own.
	History []CheckRun
}

// CheckRunOutput is what a check run shows.
type CheckRunOutput struct {
	Title   string
	Summary string
	Text    string
}

// CheckRunAction is a button a check run offers.
type CheckRunAction struct {
	Label       string
	Description string
	Identifier  string
}

// checkRunInput is the body of a create or an update; nil fields were
// not given.
type checkRunInput struct {
	Name        *string    `json:"name"`
	HeadSHA     *string    `json:"head_sha"`
	DetailsURL  *string    `json:"details_url"`
	ExternalID  *string    `json:"external_id"`
	Status      *string    `json:"status"`
	Conclusion  *string    `json:"conclusion"`
	StartedAt   *time.Time `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at"`
	Output      *struct {
		Title       *string           `json:"title"`
		Summary     *string           `json:"summary"`
		Text        *string           `json:"text"`
		Annotations []json.RawMessage `json:"annotations"`
	} `json:"output"`
	Actions *[]struct {
		Label       *string `json:"label"`
		Description *string `json:"description"`
		Identifier  *string `json:"identifier"`
	} `json:"actions"`
}

// CheckRuns returns repo's check runs, oldest first, each with its
// History.
func (s *Server) CheckRuns(repo *Repo) []CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CheckRun
	for _, id := range slices.Sorted(maps.Keys(repo.checkRuns)) {
		out = append(out, cloneCheckRun(repo.checkRuns[id], true))
	}
	return out
}

// AddCheckRun adds a check run to repo as if an App had made it, as
// run has it (its Repo and History aside), and returns it as stored,
// with its ID: for runs a test needs that came before the bot it starts.
func (s *Server) AddCheckRun(repo *Repo, run CheckRun) CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	run.ID, run.Repo = s.newID(), repo.FullName
	run.Actions = slices.Clone(run.Actions)
	run.History = []CheckRun{cloneCheckRun(&run, false)}
	repo.checkRuns[run.ID] = &run
	return cloneCheckRun(&run, true)
}

func cloneCheckRun(run *CheckRun, history bool) CheckRun {
	c := *run
	c.Actions = slices.Clone(run.Actions)
	c.History = nil
	if history {
		for _, h := range run.History {
			c.History = append(c.History, cloneCheckRun(&h, false))
		}
	}
	return c
}

// validate checks in as GitHub's schema does, answering 422 when it
// fails; it reports whether the handler should go on.
func (in *checkRunInput) validate(w http.ResponseWriter, create bool) bool {
	fail := func(format string, args ...any) bool { writeInvalid(w, format, args...); return false }
	missing := func(name string) bool { return fail("%q wasn't supplied.", name) }
	switch {
	case create && (in.Name == nil || *in.Name == ""):
		return missing("name")
	case create && (in.HeadSHA == nil || *in.HeadSHA == ""):
		return missing("head_sha")
	case in.Status != nil && !slices.Contains(checkStatuses, *in.Status):
		return fail("For 'properties/status', %q is not one of %q.", *in.Status, checkStatuses)
	case in.Conclusion != nil && !slices.Contains(checkConclusions, *in.Conclusion):
		return fail("For 'properties/conclusion', %q is not one of %q.", *in.Conclusion, checkConclusions)
	}
	if o := in.Output; o != nil {
		switch {
		case create && o.Title == nil:
			return missing("title")
		case o.Summary == nil:
			return missing("summary")
		case len(o.Annotations) > maxAnnotations:
			return fail("Only %d annotations are allowed; %d were supplied.", maxAnnotations, len(o.Annotations))
		}
		for _, f := range []struct {
			name  string
			value *string
		}{{"summary", o.Summary}, {"text", o.Text}} {
			field, v := f.name, f.value
			if v == nil {
				continue
			}
			// GitHub has refused over-long output both ways.
			if n := utf8.RuneCountInString(*v); n > maxOutputLength {
				return fail("Only %d characters are allowed; %d were supplied.", maxOutputLength, n)
			}
			if len(*v) > maxOutputLength {
				writeValidation(w, "CheckRun", field, "custom",
					fmt.Sprintf("%s exceeds a maximum bytesize of %d", field, maxOutputLength))
				return false
			}
		}
	}
	if in.Actions == nil {
		return true
	}
	if n := len(*in.Actions); n > maxActions {
		return fail("Only %d actions are allowed; %d were supplied.", maxActions, n)
	}
	for _, a := range *in.Actions {
		for _, f := range []struct {
			name  string
			value *string
			limit int
		}{{"label", a.Label, maxActionLabel}, {"description", a.Description, maxActionDescription}, {"identifier", a.Identifier, maxActionIdentifier}} {
			if f.value == nil {
				return missing(f.name)
			}
			if n := utf8.RuneCountInString(*f.value); n > f.limit {
				return fail("Only %d characters are allowed; %d were supplied.", f.limit, n)
			}
		}
	}
	return true
}

// apply merges in into run: fields given replace, fields absent stay. A
// conclusion completes the run, as on GitHub, and a run completed without
// one is answered 422; it reports whether the handler should go on, and
// the caller keeps run only then.
func (in *checkRunInput) apply(w http.ResponseWriter, run *CheckRun) bool {
	set := func(dst *string, src *string) {
		if src != nil && *src != "" {
			*dst = *src
		}
	}
	// go-github always sends a name on update, empty when unchanged.
	set(&run.Name, in.Name)
	set(&run.DetailsURL, in.DetailsURL)
	set(&run.ExternalID, in.ExternalID)
	if in.Status != nil {
		run.Status = *in.Status
		if run.Status != "completed" {
			run.Conclusion, run.CompletedAt = "", time.Time{}
		}
	}
	if in.Conclusion != nil {
		run.Conclusion, run.Status = *in.Conclusion, "completed"
	}
	if in.StartedAt != nil {
		run.StartedAt = in.StartedAt.UTC()
	}
	if in.CompletedAt != nil {
		run.CompletedAt = in.CompletedAt.UTC()
	}
	if run.Status == "completed" && run.CompletedAt.IsZero() {
		run.CompletedAt = now()
	}
	if o := in.Output; o != nil {
		set(&run.Output.Title, o.Title)
		set(&run.Output.Summary, o.Summary)
		set(&run.Output.Text, o.Text)
	}
	if in.Actions != nil {
		run.Actions = nil
		for _, a := range *in.Actions {
			run.Actions = append(run.Actions, CheckRunAction{Label: *a.Label, Description: *a.Description, Identifier: *a.Identifier})
		}
	}
	if run.Status == "completed" && run.Conclusion == "" {
		writeInvalid(w, "%q wasn't supplied.", "conclusion")
		return false
	}
	return true
}

// createCheckRun answers POST /repos/{owner}/{repo}/check-runs.
func (s *Server) createCheckRun(w http.ResponseWriter, r *http.Request, c *call) {
	var in checkRunInput
	if !readJSON(w, r, &in) || !in.validate(w, true) {
		return
	}
	sha, err := resolve(c.repo.dir, *in.HeadSHA)
	if err != nil || sha != strings.ToLower(*in.HeadSHA) {
		writeError(w, http.StatusUnprocessableEntity, "No commit found for SHA: "+*in.HeadSHA)
		return
	}
	run := &CheckRun{Repo: c.repo.FullName, HeadSHA: sha, Status: "queued", StartedAt: now()}
	if !in.apply(w, run) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	run.ID = s.newID()
	run.History = []CheckRun{cloneCheckRun(run, false)}
	c.repo.checkRuns[run.ID] = run
	writeJSON(w, http.StatusCreated, s.checkRunJSON(c.repo, run))
}

// updateCheckRun answers PATCH /repos/{owner}/{repo}/check-runs/{id}.
func (s *Server) updateCheckRun(w http.ResponseWriter, r *http.Request, c *call) {
	var in checkRunInput
	if !readJSON(w, r, &in) || !in.validate(w, false) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	run := checkRunAt(w, r, c.repo)
	if run == nil {
		return
	}
	next := cloneCheckRun(run, false)
	if !in.apply(w, &next) {
		return
	}
	next.History = append(run.History, cloneCheckRun(&next, false))
	*run = next
	writeJSON(w, http.StatusOK, s.checkRunJSON(c.repo, run))
}

// getCheckRun answers GET /repos/{owner}/{repo}/check-runs/{id}.
func (s *Server) getCheckRun(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if run := checkRunAt(w, r, c.repo); run != nil {
		writeJSON(w, http.StatusOK, s.checkRunJSON(c.repo, run))
	}
}

// listCheckRunsForRef answers GET /repos/{owner}/{repo}/commits/{ref}/check-runs,
// newest first, filtered by check_name and status, and unless filter=all,
// as GitHub's default filter=latest does, the newest run of each name only.
func (s *Server) listCheckRunsForRef(w http.ResponseWriter, r *http.Request, c *call) {
	ref := r.PathValue("ref")
	sha, err := resolve(c.repo.dir, ref)
	if err != nil || sha == "" {
		writeError(w, http.StatusUnprocessableEntity, "No commit found for SHA: "+ref)
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	var runs []*CheckRun
	for _, run := range c.repo.checkRuns {
		if run.HeadSHA == sha &&
			(q.Get("check_name") == "" || q.Get("check_name") == run.Name) &&
			(q.Get("status") == "" || q.Get("status") == run.Status) {
			runs = append(runs, run)
		}
	}
	slices.SortFunc(runs, func(a, b *CheckRun) int { return cmp.Compare(b.ID, a.ID) })
	if q.Get("filter") != "all" {
		seen := map[string]bool{}
		runs = slices.DeleteFunc(runs, func(run *CheckRun) bool {
			older := seen[run.Name]
			seen[run.Name] = true
			return older
		})
	}
	lo, hi := s.page(w, r, len(runs))
	out := []any{}
	for _, run := range runs[lo:hi] {
		out = append(out, s.checkRunJSON(c.repo, run))
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(runs), "check_runs": out})
}

// checkRunAt returns repo's check run the path names, or answers 404. The
// caller holds s.mu.
func checkRunAt(w http.ResponseWriter, r *http.Request, repo *Repo) *CheckRun {
	id, _ := pathInt(r, "id")
	run := repo.checkRuns[id]
	if run == nil {
		writeError(w, http.StatusNotFound, "Not Found")
	}
	return run
}

// checkRunJSON is GitHub's check run object. The caller holds s.mu.
func (s *Server) checkRunJSON(repo *Repo, run *CheckRun) map[string]any {
	url := fmt.Sprintf("%srepos/%s/check-runs/%d", s.APIURL(), repo.FullName, run.ID)
	actions := []any{}
	for _, a := range run.Actions {
		actions = append(actions, map[string]any{"label": a.Label, "description": a.Description, "identifier": a.Identifier})
	}
	return map[string]any{
		"id":           run.ID,
		"node_id":      fmt.Sprintf("CR_%d", run.ID),
		"name":         run.Name,
		"head_sha":     run.HeadSHA,
		"external_id":  run.ExternalID,
		"url":          url,
		"html_url":     fmt.Sprintf("%s/%s/runs/%d", s.URL(), repo.FullName, run.ID),
		"details_url":  stringOrNil(run.DetailsURL),
		"status":       run.Status,
		"conclusion":   stringOrNil(run.Conclusion),
		"started_at":   timeJSON(run.StartedAt),
		"completed_at": timeJSON(run.CompletedAt),
		"output": map[string]any{
			"title":             stringOrNil(run.Output.Title),
			"summary":           stringOrNil(run.Output.Summary),
			"text":              stringOrNil(run.Output.Text),
			"annotations_count": 0,
			"annotations_url":   url + "/annotations",
		},
		"actions":       actions,
		"check_suite":   map[string]any{"id": run.ID},
		"app":           map[string]any{"id": s.AppID, "slug": s.AppSlug, "name": s.AppSlug},
		"pull_requests": []any{},
	}
}

func stringOrNil(v string) any {
	if v == "" {
		return nil
	}
	return v
}
