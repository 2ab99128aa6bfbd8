package contextgather

import (
	"regexp"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// taskCheckBoxes is goldmark's parser of a task list item's check box,
// taking one only where cmark-gfm, which GitHub runs, does: "[ ]", "[x]"
// or "[X]" with a space after it. goldmark takes one with anything after
// it, and so read "- [x](address)" as a check box and text, where GitHub
// shows a link, whose address is no place for words.
type taskCheckBoxes struct{ parser.InlineParser }

func (t taskCheckBoxes) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	if line, _ := block.PeekLine(); !taskCheckBox.Match(line) {
		return nil
	}
	return t.InlineParser.Parse(parent, block, pc)
}

// taskCheckBox is how a check box starts to cmark-gfm.
var taskCheckBox = regexp.MustCompile(`^\[[ xX]\][ \t\v\f]`)

// taskReferences reads link reference definitions after a task list
// item's check box, where cmark-gfm, which starts the item's paragraph
// after the box, reads them: of "- [ ] [x]: /a "words"" GitHub shows the
// box alone. goldmark looks for them at the paragraph's start only, and
// left them as text.
type taskReferences struct{}

func (taskReferences) Transform(node *ast.Paragraph, reader text.Reader, pc parser.Context) {
	lines := node.Lines()
	item := node.Parent()
	if lines.Len() == 0 || item == nil || item.Kind() != ast.KindListItem || item.FirstChild() != node {
		return
	}
	first := lines.At(0)
	if !taskCheckBox.Match(first.Value(reader.Source())) {
		return
	}
	lines.Set(0, first.WithStart(first.Start+len("[x]")))
	parser.LinkReferenceParagraphTransformer.Transform(node, reader, pc)
	if node.Parent() != nil && node.Lines().At(0).Stop == first.Stop {
		node.Lines().Set(0, first) // no definition: the box is the paragraph's again
	}
}
