package contextgather

import (
	"cmp"
	"context"
	"io/fs"
	"slices"
	"strings"

	"github.com/rs/zerolog"

	"github.com/oneshot-dev/oneshot/githubapi"
)

const (
	// MaxLanguages is how many languages are kept, most code first.
	MaxLanguages = 10
	// MaxLayoutEntries is how many top-level entries of the checkout are
	// listed.
	MaxLayoutEntries = 60
)

// languages reads how much code the repository has in each language.
func languages(ctx context.Context, repo *githubapi.Repo, log zerolog.Logger) []Language {
	counts, _, err := repo.Client.Repositories.ListLanguages(ctx, repo.Owner, repo.Name)
	if err != nil {
		log.Warn().Err(err).Msg("Could not read the repository's languages; leaving them out.")
		return nil
	}
	return languageShares(counts)
}

// languageShares turns bytes per language into shares, most first, ties
// by name, at most MaxLanguages.
func languageShares(counts map[string]int) []Language {
	total := 0
	for _, n := range counts {
		total += n
	}
	if total <= 0 {
		return nil
	}
	out := make([]Language, 0, len(counts))
	for name, n := range counts {
		out = append(out, Language{Name: name, Bytes: n, Percent: 100 * float64(n) / float64(total)})
	}
	slices.SortFunc(out, func(a, b Language) int {
		return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), strings.Compare(a.Name, b.Name))
	})
	return out[:min(len(out), MaxLanguages)]
}

// topLevel lists the checkout's top-level entries, directories first
// with a trailing "/", each group by name, and how many were left out.
// .git is not part of the project.
func topLevel(checkout fs.FS, log zerolog.Logger) ([]string, int) {
	entries, err := fs.ReadDir(checkout, ".")
	if err != nil {
		log.Warn().Err(err).Msg("Could not list the checkout; leaving its layout out.")
		return nil, 0
	}
	var dirs, files []string
	for _, e := range entries {
		switch name := oneLine(stripInvisible(e.Name()), maxTitle); {
		case e.Name() == ".git" || name == "":
		case e.IsDir():
			dirs = append(dirs, name+"/")
		default:
			files = append(files, name)
		}
	}
	slices.Sort(dirs)
	slices.Sort(files)
	all := append(dirs, files...)
	if len(all) <= MaxLayoutEntries {
		return all, 0
	}
	return all[:MaxLayoutEntries], len(all) - MaxLayoutEntries
}
