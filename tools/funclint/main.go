// Command funclint reports functions that are too long or too complex to
// read alone: more than -lines lines (from the func keyword to the closing
// brace) or a cyclomatic complexity above -cyclo (one, plus one for each
// if, for, range, case, select case, && and ||, as gocyclo counts). It
// reads the Go files named on the command line, or every .go file under
// the directories named (test files excepted unless -tests), and exits 1
// when it reports anything.
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// finding is one function over a limit.
type finding struct {
	pos          token.Position
	name         string
	lines, cyclo int
}

func main() {
	maxLines := flag.Int("lines", 80, "most lines a function may have")
	maxCyclo := flag.Int("cyclo", 20, "highest cyclomatic complexity a function may have")
	tests := flag.Bool("tests", false, "check _test.go files too")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: funclint [-lines N] [-cyclo N] [-tests] file.go|dir ...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	files, err := goFiles(flag.Args(), *tests)
	if err != nil {
		fmt.Fprintln(os.Stderr, "funclint:", err)
		os.Exit(2)
	}
	fset := token.NewFileSet()
	var found []finding
	for _, f := range files {
		fs, err := check(fset, f, *maxLines, *maxCyclo)
		if err != nil {
			fmt.Fprintln(os.Stderr, "funclint:", err)
			os.Exit(2)
		}
		found = append(found, fs...)
	}
	for _, f := range found {
		fmt.Printf("%s:%d: %s: %d lines (at most %d), cyclomatic %d (at most %d)\n",
			f.pos.Filename, f.pos.Line, f.name, f.lines, *maxLines, f.cyclo, *maxCyclo)
	}
	if len(found) > 0 {
		fmt.Printf("funclint: %d functions over the limits: split them\n", len(found))
		os.Exit(1)
	}
}

// goFiles expands args (files and directories) into the Go files to check,
// sorted; directories named testdata or starting with . are skipped.
func goFiles(args []string, tests bool) ([]string, error) {
	var files []string
	want := func(p string) bool {
		return strings.HasSuffix(p, ".go") && (tests || !strings.HasSuffix(p, "_test.go"))
	}
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			if want(a) {
				files = append(files, a)
			}
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p != a && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			if !d.IsDir() && want(p) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(files)
	return files, nil
}

// check parses one file and returns its functions (declarations and
// literals outside them count with the function holding them) over a limit.
func check(fset *token.FileSet, path string, maxLines, maxCyclo int) ([]finding, error) {
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var found []finding
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		start, end := fset.Position(fd.Pos()), fset.Position(fd.End())
		n := finding{pos: start, name: funcName(fd), lines: end.Line - start.Line + 1, cyclo: cyclomatic(fd.Body)}
		if n.lines > maxLines || n.cyclo > maxCyclo {
			found = append(found, n)
		}
	}
	return found, nil
}

// funcName is Name or (Recv).Name.
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch x := t.(type) {
	case *ast.Ident:
		return "(" + x.Name + ")." + fd.Name.Name
	case *ast.IndexExpr:
		if id, ok := x.X.(*ast.Ident); ok {
			return "(" + id.Name + ")." + fd.Name.Name
		}
	}
	return fd.Name.Name
}

// cyclomatic is one plus the branch points in body, function literals
// included (they are part of the function one reads).
func cyclomatic(body ast.Node) int {
	c := 1
	ast.Inspect(body, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.IfStmt, *ast.ForStmt, *ast.RangeStmt:
			c++
		case *ast.CaseClause:
			if x.List != nil {
				c++
			}
		case *ast.CommClause:
			if x.Comm != nil {
				c++
			}
		case *ast.BinaryExpr:
			if x.Op == token.LAND || x.Op == token.LOR {
				c++
			}
		}
		return true
	})
	return c
}
