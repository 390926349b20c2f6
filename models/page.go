package models

import (
	"slices"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// PageSize is how many rows a list shows at once.
const PageSize = 50

// Page is where a list, newest first, is read from. Lists page by id (keyset), never by OFFSET:
// a page costs the same at row one million as at row one, and a row added while someone reads
// does not push a row from one page onto the next.
type Page struct {
	Before uint // the rows older than this id: the next page down. It wins over After.
	After  uint // the rows newer than this id: the page above.
	Size   int  // rows on a page; PageSize when not above zero
}

// Paged says what lies either side of a page: the cursor for each neighbouring page, zero when
// there is nothing there.
type Paged struct {
	Older uint // Before for the next older page (the page's last id)
	Newer uint // After for the next newer page (the page's first id)
}

// Newest reports whether the page is the list's first: nothing newer, so rows added later go
// on top of it.
func (p Paged) Newest() bool { return p.Newer == 0 }

// idColumn is the primary key of the query's own table.
var idColumn = clause.Column{Table: clause.CurrentTable, Name: "id"}

// paginate reads page p of q (a query with its filters, no order or limit) newest first. It
// reads one row more than the page holds to know whether there is a page beyond it; the side
// the cursor came from is checked with a one-row query, so a link shows only when its page
// has rows. An After page that reaches the top, and a cursor with nothing beyond it, read as
// the newest page: the first page is always full, and the one that takes new rows live.
func paginate[T any](q *gorm.DB, p Page, id func(T) uint) ([]T, Paged, error) {
	size := p.Size
	if size <= 0 {
		size = PageSize
	}
	q = q.Session(&gorm.Session{}) // each query below starts from the filters alone
	newestFirst := clause.OrderByColumn{Column: idColumn, Desc: true}
	var rows []T
	var pg Paged
	switch {
	case p.Before > 0:
		if err := q.Where(clause.Lt{Column: idColumn, Value: p.Before}).Order(newestFirst).Limit(size + 1).Find(&rows).Error; err != nil {
			return nil, pg, err
		}
		if len(rows) > 0 {
			if len(rows) > size {
				rows = rows[:size]
				pg.Older = id(rows[size-1])
			}
			newer, err := exists[T](q, clause.Gt{Column: idColumn, Value: id(rows[0])})
			if err != nil {
				return nil, Paged{}, err
			}
			if newer {
				pg.Newer = id(rows[0])
			}
			return rows, pg, nil
		}
	case p.After > 0:
		if err := q.Where(clause.Gt{Column: idColumn, Value: p.After}).Order(clause.OrderByColumn{Column: idColumn}).Limit(size + 1).Find(&rows).Error; err != nil {
			return nil, pg, err
		}
		if len(rows) > size {
			rows = rows[:size]
			slices.Reverse(rows)
			pg.Newer = id(rows[0])
			older, err := exists[T](q, clause.Lt{Column: idColumn, Value: id(rows[size-1])})
			if err != nil {
				return nil, Paged{}, err
			}
			if older {
				pg.Older = id(rows[size-1])
			}
			return rows, pg, nil
		}
	}
	rows = nil
	if err := q.Order(newestFirst).Limit(size + 1).Find(&rows).Error; err != nil {
		return nil, pg, err
	}
	if len(rows) > size {
		rows = rows[:size]
		pg.Older = id(rows[size-1])
	}
	return rows, pg, nil
}

// exists reports whether q has a row meeting cond.
func exists[T any](q *gorm.DB, cond clause.Expression) (bool, error) {
	var ids []uint
	if err := q.Model(new(T)).Where(cond).Limit(1).Pluck("id", &ids).Error; err != nil {
		return false, err
	}
	return len(ids) > 0, nil
}
