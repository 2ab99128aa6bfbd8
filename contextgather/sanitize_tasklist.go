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
