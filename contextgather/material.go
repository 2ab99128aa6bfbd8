package contextgather

import "time"

// Material is everything gathered for a task, as plain data: the prompt
// assembler chooses what to show and how, within its budget. All text in
// it has passed Sanitize; text by people without write access is marked
// by Trusted being false, and Item.Text fences it.
type Material struct {
	Repo string // owner/name
	// Issue is the task's issue or, for a follow-up, its pull request.
	Issue    Item
	FollowUp bool
	// Comments are those on Issue by people who may write to the
	// repository, oldest first; nobody else's are kept.
	Comments []Comment
	// Linked are the issues and pull requests of this repository that the
	// issue's body or the kept comments refer to, in the order they are
	// first mentioned; at most MaxLinked.
	Linked []Item
	// Related are issues a search found by words of the title.
	Related []Related
	// Guidelines are the repository's instructions for contributors and
	// agents, in GuidelineFiles order.
	Guidelines []Guideline
	// Languages are the repository's languages, most code first.
	Languages []Language
	// Layout are the top-level entries of the checkout, directories
	// (with a trailing "/") first; LayoutOmitted counts those left out.
	Layout        []string
	LayoutOmitted int
	// Instructions are what the trigger said beyond the command word;
	// Requester is who triggered the task, who may write to the
	// repository.
	Instructions string
	Requester    string
}

// Kind says whether an Item is an issue or a pull request.
type Kind string

// The kinds of Item.
const (
	KindIssue       Kind = "issue"
	KindPullRequest Kind = "pull_request"
)

// Item is an issue or a pull request.
type Item struct {
	Number int
	Kind   Kind
	State  string // "open" or "closed"
	// Title and Body are as the author wrote them, sanitized. When the
	// author is not Trusted, both are theirs to steer with: show them
	// through Text.
	Title  string
	Body   string
	URL    string
	Author string
	// Trusted says the author may write to the repository (write,
	// maintain or admin). Bots, and anyone whose permission could not be
	// read, are not trusted.
	Trusted bool
}

// Text is the title and the body as the agent should read them: as
// written when the author is trusted, wrapped by Untrusted together when
// not, since a title steers as well as a body does.
func (it Item) Text() string {
	text := "Title: " + it.Title
	if it.Body != "" {
		text += "\n\n" + it.Body
	}
	if it.Trusted {
		return text
	}
	return Untrusted(it.Author, text)
}

// Comment is a comment by someone who may write to the repository.
type Comment struct {
	Author  string
	Body    string
	URL     string
	Created time.Time
}

// Related is an issue that may be about the same thing as the task's.
// Only its title and address are kept: nobody vetted its text, and the
// agent can read it if it must. Anyone may have written the title, so the
// prompt shows it as untrusted data.
type Related struct {
	Number int
	Title  string
	URL    string
}

// Guideline is one of the repository's files of instructions.
type Guideline struct {
	Path string
	Text string
	// Truncated says the file was longer than MaxGuidelineBytes and Text
	// holds its beginning.
	Truncated bool
}

// Language is how much of the repository's code is in one language, as
// GitHub counts it.
type Language struct {
	Name    string
	Bytes   int
	Percent float64
}
