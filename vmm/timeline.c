// SPDX-License-Identifier: MIT
#include "timeline.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE_SIZE 4096ULL

struct timeline_event {
	uint64_t ns; /* CLOCK_MONOTONIC, taken under the lock: events are in time order */
	uint64_t gpa, size, pages;
	int32_t code;
	uint16_t vcpu;
	uint8_t kind;
};

struct timeline {
	pthread_mutex_t lock;
	struct timeline_event *events;
	size_t capacity, count;
	uint64_t dropped;
	uint64_t ram_size;
	size_t nr_pages;
	uint8_t *initial, *final; /* a bit per page of RAM: 1 = private */
	bool final_known;
};

static bool bit_get(const uint8_t *bits, size_t index)
{
	return bits[index / 8] & (1u << (index % 8));
}

static void bit_set(uint8_t *bits, size_t index, bool value)
{
	if (value)
		bits[index / 8] |= (uint8_t)(1u << (index % 8));
	else
		bits[index / 8] &= (uint8_t) ~(1u << (index % 8));
}

struct timeline *timeline_create(size_t capacity, uint64_t ram_size)
{
	struct timeline *timeline = calloc(1, sizeof(*timeline));
	if (!timeline)
		return NULL;
	timeline->capacity = capacity;
	timeline->ram_size = ram_size;
	timeline->nr_pages = (size_t)(ram_size / PAGE_SIZE);
	/* calloc: the pages of the array are touched only as events arrive. */
	timeline->events = calloc(capacity ? capacity : 1, sizeof(*timeline->events));
	timeline->initial = calloc(timeline->nr_pages / 8 + 1, 1);
	timeline->final = calloc(timeline->nr_pages / 8 + 1, 1);
	if (!timeline->events || !timeline->initial || !timeline->final) {
		free(timeline->events);
		free(timeline->initial);
		free(timeline->final);
		free(timeline);
		return NULL;
	}
	pthread_mutex_init(&timeline->lock, NULL);
	return timeline;
}

void timeline_destroy(struct timeline *timeline)
{
	if (!timeline)
		return;
	pthread_mutex_destroy(&timeline->lock);
	free(timeline->events);
	free(timeline->initial);
	free(timeline->final);
	free(timeline);
}

static void set_states(const struct timeline *timeline, uint8_t *bits, uint64_t gpa, uint64_t size,
		       bool private)
{
	if (gpa >= timeline->ram_size || size == 0)
		return;
	uint64_t end = size > timeline->ram_size - gpa ? timeline->ram_size : gpa + size;
	for (uint64_t page = gpa / PAGE_SIZE;
	     page < (end + PAGE_SIZE - 1) / PAGE_SIZE && page < timeline->nr_pages; page++)
		bit_set(bits, (size_t)page, private);
}

void timeline_set_initial(struct timeline *timeline, uint64_t gpa, uint64_t size, bool private)
{
	set_states(timeline, timeline->initial, gpa, size, private);
}

void timeline_set_final(struct timeline *timeline, uint64_t gpa, uint64_t size, bool private)
{
	set_states(timeline, timeline->final, gpa, size, private);
	timeline->final_known = true;
}

void timeline_record(struct timeline *timeline, int vcpu, enum timeline_kind kind, uint64_t gpa,
		     uint64_t size, uint64_t pages, int code)
{
	struct timespec now;
	if ((unsigned int)kind >= TIMELINE_KIND_COUNT)
		return;
	pthread_mutex_lock(&timeline->lock);
	if (timeline->count == timeline->capacity) {
		timeline->dropped++;
		pthread_mutex_unlock(&timeline->lock);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	struct timeline_event *event = &timeline->events[timeline->count++];
	event->ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	event->gpa = gpa;
	event->size = size;
	event->pages = pages;
	event->code = code;
	event->vcpu = (uint16_t)(vcpu < 0 ? 0 : vcpu > UINT16_MAX ? UINT16_MAX : vcpu);
	event->kind = (uint8_t)kind;
	pthread_mutex_unlock(&timeline->lock);
}

size_t timeline_count(struct timeline *timeline)
{
	pthread_mutex_lock(&timeline->lock);
	size_t count = timeline->count;
	pthread_mutex_unlock(&timeline->lock);
	return count;
}

uint64_t timeline_dropped(struct timeline *timeline)
{
	pthread_mutex_lock(&timeline->lock);
	uint64_t dropped = timeline->dropped;
	pthread_mutex_unlock(&timeline->lock);
	return dropped;
}

/* ---- The renderer --------------------------------------------------------
 *
 * x is the order of events, not their time. A conversion takes tens of
 * microseconds while the guest's loops between them take milliseconds, so on
 * a time axis the faults of a whole step fall into one pixel and the picture
 * is mostly empty; in event order every fault sits beside the conversion it
 * caused, and the ticks below the axis give each event's time since the
 * first. With more events than pixel columns, a column holds several
 * consecutive events: a band cell that held both states within it is drawn
 * hatched, and equal markers in a column are drawn once.
 *
 * y is the touched pages of RAM (those in the range of any event), in GPA
 * order, the untouched pages between them left out (a dashed line marks
 * each gap, while there are few). With more touched pages than MAX_ROWS, a
 * row holds several consecutive pages, and is hatched when they differ.
 *
 * Size: about 60 bytes per band segment and per marker, with a hover title
 * per marker while columns are single events; the small scenarios make
 * pictures of a few tens of KiB, a few thousand events some hundreds, and
 * the recorder's cap bounds the worst case (every event a marker of its
 * own, every cell a band segment) near 12 MiB.
 */

#define WIDTH	  1120
#define PLOT_X	  130.0 /* left edge of the plot: GPA labels and the start strip before it */
#define PLOT_W	  960.0
#define START_X	  (PLOT_X - 16) /* the strip that shows the state the run began with */
#define START_W	  12.0
#define MAX_ROWS  200
#define PLOT_H	  480.0 /* rows share this, within MIN_ROW..MAX_ROW each */
#define MIN_ROW	  3.0
#define MAX_ROW	  16.0
#define NO_ROW	  SIZE_MAX
#define SHARED	  1
#define PRIVATE	  2
#define CHAR_W	  6.4 /* the average width of a character of 11 px sans-serif */
#define N_COLOURS 8

/* Okabe and Ito's colours, readable on both pale bands and for colour-blind eyes. */
static const char *const vcpu_colours[N_COLOURS] = {
	"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#000000", "#e69f00", "#56b4e9", "#7f3f00",
};

struct layout {
	size_t nr_touched, nr_rows, nr_columns, per_row;
	size_t *touched;   /* page numbers of the touched pages, ascending */
	size_t *row_start; /* touched index where each row begins; [nr_rows] = nr_touched */
	size_t *row_of;	   /* row of each touched index */
	double *row_y;
	double row_h, column_w, plot_top, plot_bottom, other_y;
	bool other_row; /* events outside RAM get a row of their own */
	size_t gaps;
	double gap_h; /* the space a gap between runs of pages takes; 0: not marked */
};

/* Pages [*first, *last] of an event, or false when its range is not in RAM. */
static bool event_pages(const struct timeline *timeline, const struct timeline_event *event,
			size_t *first, size_t *last)
{
	uint64_t size = event->size ? event->size : 1;
	if (event->gpa >= timeline->ram_size || size > timeline->ram_size - event->gpa)
		return false;
	*first = (size_t)(event->gpa / PAGE_SIZE);
	*last = (size_t)((event->gpa + size - 1) / PAGE_SIZE);
	return *last < timeline->nr_pages;
}

/* The first touched index whose page is >= page. */
static size_t lower_bound(const struct layout *layout, size_t page)
{
	size_t low = 0, high = layout->nr_touched;
	while (low < high) {
		size_t middle = low + (high - low) / 2;
		if (layout->touched[middle] < page)
			low = middle + 1;
		else
			high = middle;
	}
	return low;
}

/* Rows of an event, or false when none of its pages is touched. */
static bool event_rows(const struct timeline *timeline, const struct layout *layout,
		       const struct timeline_event *event, size_t *row_a, size_t *row_b)
{
	size_t first, last;
	if (!event_pages(timeline, event, &first, &last))
		return false;
	size_t a = lower_bound(layout, first), b = lower_bound(layout, last + 1);
	if (a >= b)
		return false;
	*row_a = layout->row_of[a];
	*row_b = layout->row_of[b - 1];
	return true;
}

static bool gap_before(const struct layout *layout, size_t row)
{
	size_t index = layout->row_start[row];
	return row > 0 && layout->touched[index] != layout->touched[index - 1] + 1;
}

static size_t divide_up(size_t a, size_t b)
{
	return a / b + (a % b != 0);
}

/* Rows of per_row pages: each run of contiguous pages starts a row (aligned),
 * or rows run across the gaps. */
static size_t count_rows(const struct layout *layout, size_t per_row, bool aligned)
{
	if (!aligned)
		return divide_up(layout->nr_touched, per_row);
	size_t rows = 0, run = 1;
	for (size_t i = 1; i <= layout->nr_touched; i++) {
		if (i == layout->nr_touched || layout->touched[i] != layout->touched[i - 1] + 1) {
			rows += divide_up(run, per_row);
			run = 0;
		}
		run++;
	}
	return rows;
}

static int lay_out(struct timeline *timeline, struct layout *layout, double top)
{
	size_t n = timeline->count;
	int32_t *depth = calloc(timeline->nr_pages + 1, sizeof(*depth));
	if (!depth)
		return -ENOMEM;
	/* Touched pages, by a difference array: O(events + pages). */
	for (size_t i = 0; i < n; i++) {
		size_t first, last;
		if (event_pages(timeline, &timeline->events[i], &first, &last)) {
			depth[first]++;
			depth[last + 1]--;
		} else {
			layout->other_row = true;
		}
	}
	int32_t running = 0;
	for (size_t page = 0; page < timeline->nr_pages; page++) {
		running += depth[page];
		depth[page] = running > 0;
		layout->nr_touched += running > 0;
	}
	layout->touched = calloc(layout->nr_touched + 1, sizeof(size_t));
	layout->row_of = calloc(layout->nr_touched + 1, sizeof(size_t));
	if (!layout->touched || !layout->row_of) {
		free(depth);
		return -ENOMEM;
	}
	for (size_t page = 0, i = 0; page < timeline->nr_pages; page++)
		if (depth[page])
			layout->touched[i++] = page;
	free(depth);

	size_t runs = count_rows(layout, SIZE_MAX, true);
	bool aligned = runs <= MAX_ROWS / 2;
	size_t per_row = 1;
	if (layout->nr_touched && count_rows(layout, 1, aligned) > MAX_ROWS) {
		size_t low = 1, high = layout->nr_touched; /* the least per_row that fits */
		while (low < high) {
			size_t middle = low + (high - low) / 2;
			if (count_rows(layout, middle, aligned) > MAX_ROWS)
				low = middle + 1;
			else
				high = middle;
		}
		per_row = low;
	}
	layout->per_row = per_row;
	layout->nr_rows = layout->nr_touched ? count_rows(layout, per_row, aligned) : 0;
	layout->row_start = calloc(layout->nr_rows + 1, sizeof(size_t));
	layout->row_y = calloc(layout->nr_rows + 1, sizeof(double));
	if (!layout->row_start || !layout->row_y)
		return -ENOMEM;
	size_t row = 0, in_row = 0;
	for (size_t i = 0; i < layout->nr_touched; i++) {
		bool run_starts = i > 0 && layout->touched[i] != layout->touched[i - 1] + 1;
		if (i > 0 && (in_row == per_row || (aligned && run_starts))) {
			row++;
			in_row = 0;
		}
		if (in_row == 0)
			layout->row_start[row] = i;
		layout->row_of[i] = row;
		in_row++;
	}
	layout->row_start[layout->nr_rows] = layout->nr_touched;

	for (size_t r = 1; r < layout->nr_rows; r++)
		layout->gaps += gap_before(layout, r);
	double row_h = layout->nr_rows ? PLOT_H / (double)layout->nr_rows : MAX_ROW;
	layout->row_h = row_h < MIN_ROW ? MIN_ROW : row_h > MAX_ROW ? MAX_ROW : row_h;
	/* Too many gaps to mark (a scatter of single pages) are left unmarked. */
	layout->gap_h = layout->gaps <= 30 ? 8 : layout->gaps <= 60 ? 3 : 0;
	double y = top;
	for (size_t r = 0; r < layout->nr_rows; r++) {
		if (gap_before(layout, r))
			y += layout->gap_h;
		layout->row_y[r] = y;
		y += layout->row_h;
	}
	if (layout->other_row) {
		y += 8;
		layout->other_y = y;
		y += layout->row_h < 10 ? 10 : layout->row_h;
	}
	if (layout->nr_rows == 0 && !layout->other_row)
		y += 40; /* room to say there is nothing to draw */
	layout->plot_top = top;
	layout->plot_bottom = y;
	layout->nr_columns = n < (size_t)PLOT_W ? n : (size_t)PLOT_W;
	layout->column_w = layout->nr_columns ? PLOT_W / (double)layout->nr_columns : PLOT_W;
	return 0;
}

static void free_layout(struct layout *layout)
{
	free(layout->touched);
	free(layout->row_start);
	free(layout->row_of);
	free(layout->row_y);
}

/* Escaped for XML text and attributes. '@' too, so that no line of the
 * picture can look like the lab's console markers (lab/init.sh); bytes that
 * are not printable ASCII become '?', so the file is valid UTF-8 XML. */
void svg_put_text(FILE *out, const char *text)
{
	for (; text && *text; text++) {
		unsigned char c = (unsigned char)*text;
		switch (c) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&apos;", out);
			break;
		case '@':
			fputs("&#64;", out);
			break;
		default:
			fputc(c >= 0x20 && c < 0x7f ? c : '?', out);
		}
	}
}

static double column_x(const struct layout *layout, size_t column)
{
	return PLOT_X + (double)column * layout->column_w;
}

/* The first event of a column. */
static size_t column_first(const struct layout *layout, size_t column, size_t n)
{
	return (size_t)(((uint64_t)column * n + layout->nr_columns - 1) / layout->nr_columns);
}

static const char *const state_class[4] = { "", "s", "p", "b" };

/* The state of a row from how many of its pages are private. */
static int row_state(const struct layout *layout, const size_t *private_pages, size_t row)
{
	size_t pages = layout->row_start[row + 1] - layout->row_start[row];
	return private_pages[row] == 0 ? SHARED : private_pages[row] == pages ? PRIVATE : 3;
}

static bool is_conversion(int kind)
{
	return kind == TIMELINE_TO_PRIVATE || kind == TIMELINE_TO_SHARED ||
	       kind == TIMELINE_ALREADY_PRIVATE || kind == TIMELINE_ALREADY_SHARED;
}

static bool to_private(int kind)
{
	return kind == TIMELINE_TO_PRIVATE || kind == TIMELINE_ALREADY_PRIVATE;
}

/*
 * Replay the events over the touched pages: grid[row * columns + column]
 * gets SHARED and/or PRIVATE for the states the row held after each event
 * of the column (its state throughout, for a row no event of the column
 * touched); start[row] the state before the first event. *mismatched:
 * pages whose replayed end differs from timeline_set_final's.
 */
static uint8_t *replay(struct timeline *timeline, const struct layout *layout, uint8_t *start,
		       uint64_t *mismatched)
{
	size_t rows = layout->nr_rows, columns = layout->nr_columns, n = timeline->count;
	uint8_t *grid = calloc(rows * columns + 1, 1);
	uint8_t *current = calloc(layout->nr_touched + 1, 1);
	size_t *private_pages = calloc(rows + 1, sizeof(size_t));
	size_t *stamp = calloc(rows + 1, sizeof(size_t));
	if (!grid || !current || !private_pages || !stamp) {
		free(grid);
		grid = NULL;
		goto out;
	}
	for (size_t i = 0; i < layout->nr_touched; i++) {
		current[i] = bit_get(timeline->initial, layout->touched[i]);
		private_pages[layout->row_of[i]] += current[i];
	}
	for (size_t r = 0; r < rows; r++)
		start[r] = (uint8_t)row_state(layout, private_pages, r);
	for (size_t column = 0; column < columns; column++) {
		size_t last = column + 1 < columns ? column_first(layout, column + 1, n) : n;
		for (size_t e = column_first(layout, column, n); e < last; e++) {
			const struct timeline_event *event = &timeline->events[e];
			size_t first_page, last_page;
			if (!is_conversion(event->kind) ||
			    !event_pages(timeline, event, &first_page, &last_page))
				continue;
			bool private = to_private(event->kind);
			size_t a = lower_bound(layout, first_page);
			size_t b = lower_bound(layout, last_page + 1);
			for (size_t i = a; i < b; i++) {
				if (current[i] == private)
					continue;
				if (private)
					private_pages[layout->row_of[i]]++;
				else
					private_pages[layout->row_of[i]]--;
				current[i] = private;
			}
			if (a >= b)
				continue;
			for (size_t r = layout->row_of[a]; r <= layout->row_of[b - 1]; r++) {
				grid[r * columns + column] |=
					(uint8_t)row_state(layout, private_pages, r);
				stamp[r] = column + 1;
			}
		}
		for (size_t r = 0; r < rows; r++)
			if (stamp[r] != column + 1)
				grid[r * columns + column] =
					(uint8_t)row_state(layout, private_pages, r);
	}
	*mismatched = 0;
	if (timeline->final_known) {
		for (size_t page = 0, i = 0; page < timeline->nr_pages; page++) {
			bool replayed = bit_get(timeline->initial, page);
			if (i < layout->nr_touched && layout->touched[i] == page)
				replayed = current[i++];
			*mismatched += replayed != bit_get(timeline->final, page);
		}
	}
out:
	free(current);
	free(private_pages);
	free(stamp);
	return grid;
}

static void draw_bands(FILE *out, const struct layout *layout, const uint8_t *grid,
		       const uint8_t *start)
{
	double height = layout->row_h >= 6 ? layout->row_h - 1 : layout->row_h;
	for (size_t r = 0; r < layout->nr_rows; r++) {
		double y = layout->row_y[r];
		fprintf(out,
			"<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			"height=\"%.1f\"/>\n",
			state_class[start[r]], START_X, y, START_W, height);
		for (size_t c = 0; c < layout->nr_columns;) {
			uint8_t state = grid[r * layout->nr_columns + c];
			size_t end = c + 1;
			while (end < layout->nr_columns &&
			       grid[r * layout->nr_columns + end] == state)
				end++;
			fprintf(out,
				"<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				"height=\"%.1f\"/>\n",
				state_class[state], column_x(layout, c), y,
				(double)(end - c) * layout->column_w, height);
			c = end;
		}
		if (layout->gap_h > 0 && gap_before(layout, r))
			fprintf(out, "<path class=\"gap\" d=\"M%.1f,%.1fH%.1f\"/>\n", START_X,
				y - layout->gap_h / 2, PLOT_X + PLOT_W);
	}
	if (layout->other_row)
		fprintf(out,
			"<rect class=\"o\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			"height=\"%.1f\"/>\n",
			PLOT_X, layout->other_y, PLOT_W, layout->row_h < 10 ? 10 : layout->row_h);
}

/* GPA labels: at the first row of every run of pages, and down long runs
 * wherever there is room, never closer than a line. */
static void draw_gpa_labels(FILE *out, const struct layout *layout)
{
	double last_y = -100;
	for (size_t r = 0; r < layout->nr_rows; r++) {
		double y = layout->row_y[r] + layout->row_h / 2 + 4;
		bool run = r == 0 || gap_before(layout, r);
		if (y - last_y < (run ? 12 : 40))
			continue;
		fprintf(out, "<text class=\"l\" x=\"%.1f\" y=\"%.1f\">0x%zx</text>\n", START_X - 4,
			y, layout->touched[layout->row_start[r]] * (size_t)PAGE_SIZE);
		last_y = y;
	}
	if (layout->other_row)
		fprintf(out, "<text class=\"l\" x=\"%.1f\" y=\"%.1f\">not RAM</text>\n",
			START_X - 4, layout->other_y + 9);
}

static const char *const kind_words[TIMELINE_KIND_COUNT] = {
	[TIMELINE_FAULT_PRIVATE] = "memory fault: private access to a shared page",
	[TIMELINE_FAULT_SHARED] = "memory fault: shared access to a private page",
	[TIMELINE_TO_PRIVATE] = "converted to private",
	[TIMELINE_TO_SHARED] = "converted to shared",
	[TIMELINE_ALREADY_PRIVATE] = "conversion to private: already so",
	[TIMELINE_ALREADY_SHARED] = "conversion to shared: already so",
	[TIMELINE_REFUSED_PRIVATE] = "conversion to private refused",
	[TIMELINE_REFUSED_SHARED] = "conversion to shared refused",
	[TIMELINE_DISCARD] = "discarded",
	[TIMELINE_DISCARD_REFUSED] = "discard refused",
};

/* The marker of a kind, centred on (x, y), s its half-size: the element
 * without the end of its start tag. */
static void put_shape(FILE *out, int kind, double x, double y, double s, const char *colour_class)
{
	switch (kind) {
	case TIMELINE_FAULT_PRIVATE:
	case TIMELINE_FAULT_SHARED:
		fprintf(out, "<circle class=\"%s%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"",
			colour_class, kind == TIMELINE_FAULT_SHARED ? " h" : "", x, y, s);
		return;
	case TIMELINE_TO_PRIVATE:
	case TIMELINE_ALREADY_PRIVATE: /* pointing down, into private */
		fprintf(out, "<path class=\"%s%s\" d=\"M%.1f,%.1fh%.1fl%.1f,%.1fz\"", colour_class,
			kind == TIMELINE_ALREADY_PRIVATE ? " h" : "", x - s, y - s, 2 * s, -s,
			2 * s);
		return;
	case TIMELINE_TO_SHARED:
	case TIMELINE_ALREADY_SHARED:
		fprintf(out, "<path class=\"%s%s\" d=\"M%.1f,%.1fh%.1fl%.1f,%.1fz\"", colour_class,
			kind == TIMELINE_ALREADY_SHARED ? " h" : "", x - s, y + s, 2 * s, -s,
			-2 * s);
		return;
	case TIMELINE_DISCARD:
		fprintf(out,
			"<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"",
			colour_class, x - s, y - s, 2 * s, 2 * s);
		return;
	default: /* the refusals: a cross */
		fprintf(out, "<path class=\"%s x\" d=\"M%.1f,%.1fl%.1f,%.1fm0,%.1fl%.1f,%.1f\"",
			colour_class, x - s, y - s, 2 * s, 2 * s, -2 * s, -2 * s, 2 * s);
		return;
	}
}

static const char *const shape_end[] = { "</circle>", "</path>", "</rect>" };

static const char *end_of(int kind)
{
	return kind <= TIMELINE_FAULT_SHARED ? shape_end[0]
	       : kind == TIMELINE_DISCARD    ? shape_end[2]
					     : shape_end[1];
}

/* Equal markers of one column: drawn once, with how many events they stand for. */
struct marker {
	size_t first, last, count; /* events */
	size_t row_a, row_b;	   /* NO_ROW: the row outside RAM */
	uint16_t vcpu;
	uint8_t kind;
};

static double ms_since(const struct timeline *timeline, size_t event)
{
	return (double)(timeline->events[event].ns - timeline->events[0].ns) / 1e6;
}

static void put_marker_title(FILE *out, const struct timeline *timeline, const struct marker *m)
{
	const struct timeline_event *event = &timeline->events[m->first];
	fprintf(out, "<title>");
	if (m->count == 1)
		fprintf(out, "event %zu at +%.3f ms, vCPU %u: %s", m->first,
			ms_since(timeline, m->first), event->vcpu, kind_words[event->kind]);
	else
		fprintf(out, "%zu events %zu..%zu from +%.3f ms, vCPU %u: %s; the first", m->count,
			m->first, m->last, ms_since(timeline, m->first), event->vcpu,
			kind_words[event->kind]);
	fprintf(out, " at gpa %#" PRIx64 " size %#" PRIx64, event->gpa, event->size);
	if (event->kind == TIMELINE_TO_PRIVATE || event->kind == TIMELINE_TO_SHARED)
		fprintf(out, " (%" PRIu64 " page%s changed)", event->pages,
			event->pages == 1 ? "" : "s");
	if (event->kind >= TIMELINE_REFUSED_PRIVATE && event->kind != TIMELINE_DISCARD)
		fprintf(out, " (answer %d%s)", event->code,
			event->code == -1    ? ", EPERM"
			: event->code == -12 ? ", ENOMEM"
			: event->code == -22 ? ", EINVAL"
			: event->code == -38 ? ", ENOSYS"
					     : "");
	fprintf(out, "</title>");
}

static int draw_markers(FILE *out, struct timeline *timeline, const struct layout *layout)
{
	size_t n = timeline->count;
	if (n == 0)
		return 0;
	size_t per_column = (n + layout->nr_columns - 1) / layout->nr_columns + 1;
	struct marker *markers = calloc(per_column, sizeof(*markers));
	if (!markers)
		return -ENOMEM;
	double size = (layout->column_w < layout->row_h ? layout->column_w : layout->row_h) * 0.45;
	size = size < 2 ? 2 : size > 5 ? 5 : size;
	double other_h = layout->row_h < 10 ? 10 : layout->row_h;
	for (size_t column = 0; column < layout->nr_columns; column++) {
		size_t count = 0;
		size_t last =
			column + 1 < layout->nr_columns ? column_first(layout, column + 1, n) : n;
		for (size_t e = column_first(layout, column, n); e < last; e++) {
			const struct timeline_event *event = &timeline->events[e];
			struct marker key = { .first = e,
					      .last = e,
					      .count = 1,
					      .vcpu = event->vcpu,
					      .kind = event->kind,
					      .row_a = NO_ROW,
					      .row_b = NO_ROW };
			event_rows(timeline, layout, event, &key.row_a, &key.row_b);
			size_t m = 0;
			while (m < count &&
			       (markers[m].vcpu != key.vcpu || markers[m].kind != key.kind ||
				markers[m].row_a != key.row_a || markers[m].row_b != key.row_b))
				m++;
			if (m < count) {
				markers[m].last = e;
				markers[m].count++;
			} else {
				markers[count++] = key;
			}
		}
		double x = column_x(layout, column) + layout->column_w / 2;
		/* A title per marker while each column is one event; a column of
		 * several gets one title, which keeps thousands of events small. */
		bool grouped = layout->nr_columns < n;
		if (grouped)
			fprintf(out, "<g><title>events %zu..%zu, +%.3f to +%.3f ms</title>\n",
				column_first(layout, column, n), last - 1,
				ms_since(timeline, column_first(layout, column, n)),
				ms_since(timeline, last - 1));
		for (size_t m = 0; m < count; m++) {
			const struct marker *marker = &markers[m];
			char colour[8];
			snprintf(colour, sizeof(colour), "v%u",
				 (unsigned int)(marker->vcpu % N_COLOURS));
			double y_top = marker->row_a == NO_ROW ? layout->other_y
							       : layout->row_y[marker->row_a];
			double y = y_top + (marker->row_a == NO_ROW ? other_h : layout->row_h) / 2;
			if (marker->row_a != NO_ROW && marker->row_b != marker->row_a)
				fprintf(out, "<path class=\"%s x\" d=\"M%.1f,%.1fV%.1f\"/>\n",
					colour, x, y_top,
					layout->row_y[marker->row_b] + layout->row_h);
			put_shape(out, marker->kind, x, y, size, colour);
			if (grouped) {
				fprintf(out, "/>\n");
				continue;
			}
			fprintf(out, ">");
			put_marker_title(out, timeline, marker);
			fprintf(out, "%s\n", end_of(marker->kind));
		}
		if (grouped)
			fprintf(out, "</g>\n");
	}
	free(markers);
	return 0;
}

static void draw_axis(FILE *out, struct timeline *timeline, const struct layout *layout)
{
	size_t n = timeline->count, columns = layout->nr_columns;
	double y = layout->plot_bottom + 4;
	fprintf(out, "<path class=\"axis\" d=\"M%.1f,%.1fH%.1f\"/>\n", PLOT_X, y, PLOT_X + PLOT_W);
	/* Up to 8 ticks, the first and the last column among them. */
	size_t ticks = 8;
	if (columns < ticks)
		ticks = columns;
	for (size_t k = 0; k < ticks; k++) {
		size_t column = (k * (columns - 1) + (ticks - 1) / 2) / (ticks > 1 ? ticks - 1 : 1);
		size_t event = column_first(layout, column, n);
		double x = column_x(layout, column) + layout->column_w / 2;
		fprintf(out,
			"<path class=\"axis\" d=\"M%.1f,%.1fv4\"/>\n<text class=\"t\" x=\"%.1f\" "
			"y=\"%.1f\">event %zu</text>\n<text class=\"t\" x=\"%.1f\" "
			"y=\"%.1f\">+%.3f "
			"ms</text>\n",
			x, y, x, y + 15, event, x, y + 27, ms_since(timeline, event));
	}
	fprintf(out,
		"<text class=\"c\" x=\"%.1f\" y=\"%.1f\">events in the order they were recorded "
		"(ticks: event number, time since the first event)</text>\n",
		PLOT_X + PLOT_W / 2, y + 43);
	fprintf(out,
		"<text class=\"c\" transform=\"translate(14,%.1f) rotate(-90)\">guest-physical "
		"address of each touched page</text>\n",
		(layout->plot_top + layout->plot_bottom) / 2);
	fprintf(out, "<text class=\"t\" x=\"%.1f\" y=\"%.1f\">start</text>\n",
		START_X + START_W / 2, layout->plot_top - 4);
}

/* One legend entry: a sample drawn by the caller at x, then its words. */
static double legend_words(FILE *out, double x, double y, const char *words)
{
	fprintf(out, "<text class=\"g\" x=\"%.1f\" y=\"%.1f\">", x + 10, y + 4);
	svg_put_text(out, words);
	fprintf(out, "</text>\n");
	return x + 10 + (double)strlen(words) * CHAR_W + 22;
}

static void draw_legend(FILE *out, double y, const bool *vcpus_seen)
{
	static const char *const band_words[] = { "shared (the host may map it)",
						  "private (the guest's alone)",
						  "both, within one cell" };
	double x = PLOT_X - 100;
	for (int state = 1; state <= 3; state++) {
		fprintf(out,
			"<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\"/>\n",
			state_class[state], x - 6, y - 5);
		x = legend_words(out, x + 6, y, band_words[state - 1]);
	}
	fprintf(out, "<path class=\"gap\" d=\"M%.1f,%.1fh16\"/>\n", x - 6, y);
	x = legend_words(out, x + 8, y, "untouched pages left out");
	fprintf(out, "<rect class=\"s\" x=\"%.1f\" y=\"%.1f\" width=\"6\" height=\"10\"/>\n", x - 3,
		y - 5);
	legend_words(out, x, y, "start: state before the first event");

	static const int kinds[] = { TIMELINE_FAULT_PRIVATE,   TIMELINE_FAULT_SHARED,
				     TIMELINE_TO_PRIVATE,      TIMELINE_TO_SHARED,
				     TIMELINE_ALREADY_PRIVATE, TIMELINE_REFUSED_PRIVATE,
				     TIMELINE_DISCARD };
	static const char *const kind_legend[] = { "fault, private access",
						   "fault, shared access",
						   "to private",
						   "to shared",
						   "already so (hollow)",
						   "refused",
						   "discarded" };
	y += 20;
	x = PLOT_X - 100;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		put_shape(out, kinds[k], x, y, 4.5, "k");
		fprintf(out, "/>\n");
		x = legend_words(out, x, y, kind_legend[k]);
	}
	fprintf(out, "<path class=\"k x\" d=\"M%.1f,%.1fv12\"/>\n", x, y - 6);
	legend_words(out, x, y, "range of several rows");

	y += 20;
	x = PLOT_X - 100;
	bool any = false;
	for (int v = 0; v <= UINT16_MAX; v++) {
		if (!vcpus_seen[v])
			continue;
		any = true;
		if (x > WIDTH - 80) {
			legend_words(out, x - 10, y, "...");
			break;
		}
		fprintf(out, "<circle class=\"v%d\" cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\"/>\n",
			v % N_COLOURS, x, y);
		char words[16];
		snprintf(words, sizeof(words), "vCPU %d", v);
		x = legend_words(out, x, y, words);
	}
	if (!any)
		legend_words(out, x - 10, y, "no events: no vCPU to show");
}

struct summary {
	uint64_t kinds[TIMELINE_KIND_COUNT];
	uint64_t pages_private, pages_shared;
	size_t nr_vcpus;
};

static void summarize(const struct timeline *timeline, struct summary *summary, bool *vcpus_seen)
{
	memset(summary, 0, sizeof(*summary));
	for (size_t i = 0; i < timeline->count; i++) {
		const struct timeline_event *event = &timeline->events[i];
		summary->kinds[event->kind]++;
		if (event->kind == TIMELINE_TO_PRIVATE)
			summary->pages_private += event->pages;
		if (event->kind == TIMELINE_TO_SHARED)
			summary->pages_shared += event->pages;
		summary->nr_vcpus += !vcpus_seen[event->vcpu];
		vcpus_seen[event->vcpu] = true;
	}
}

static void put_line(FILE *out, double y, const char *class, const char *text)
{
	fprintf(out, "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\">", class, PLOT_X - 100, y);
	svg_put_text(out, text);
	fprintf(out, "</text>\n");
}

/* Title, what was recorded, what the axes are, and where the picture is
 * incomplete or uncertain. Returns where the plot may begin. */
static double draw_header(FILE *out, struct timeline *timeline, const struct layout *layout,
			  const struct summary *s, uint64_t mismatched, const char *title,
			  const char *mode)
{
	char line[512];
	fprintf(out, "<text class=\"title\" x=\"%.1f\" y=\"24\">", PLOT_X - 100);
	svg_put_text(out, title);
	fputs(" (", out);
	svg_put_text(out, mode);
	fputs("): shareability of the touched pages over the run</text>\n", out);
	size_t n = timeline->count;
	uint64_t faults = s->kinds[TIMELINE_FAULT_PRIVATE] + s->kinds[TIMELINE_FAULT_SHARED];
	uint64_t converted = s->kinds[TIMELINE_TO_PRIVATE] + s->kinds[TIMELINE_TO_SHARED];
	uint64_t already = s->kinds[TIMELINE_ALREADY_PRIVATE] + s->kinds[TIMELINE_ALREADY_SHARED];
	uint64_t refused = s->kinds[TIMELINE_REFUSED_PRIVATE] + s->kinds[TIMELINE_REFUSED_SHARED] +
			   s->kinds[TIMELINE_DISCARD_REFUSED];
	snprintf(line, sizeof(line),
		 "%zu events from %zu vCPU%s over %.3f ms: memory faults %" PRIu64
		 ", conversions %" PRIu64 " (pages to private %" PRIu64 ", to shared %" PRIu64
		 "), already so %" PRIu64 ", refused %" PRIu64 ", discards %" PRIu64,
		 n, s->nr_vcpus, s->nr_vcpus == 1 ? "" : "s", n ? ms_since(timeline, n - 1) : 0.0,
		 faults, converted, s->pages_private, s->pages_shared, already, refused,
		 s->kinds[TIMELINE_DISCARD]);
	put_line(out, 42, "g", line);
	int used = snprintf(line, sizeof(line),
			    "x: the events in the order they were recorded, %zu column%s",
			    layout->nr_columns, layout->nr_columns == 1 ? "" : "s");
	if (layout->nr_columns && layout->nr_columns < n)
		snprintf(line + used, sizeof(line) - (size_t)used,
			 " of up to %zu events each (equal markers in a column drawn once)",
			 (n + layout->nr_columns - 1) / layout->nr_columns);
	put_line(out, 56, "g", line);
	snprintf(line, sizeof(line),
		 "y: the %zu touched pages of guest RAM in %zu row%s%s, the untouched pages "
		 "between them left out%s",
		 layout->nr_touched, layout->nr_rows, layout->nr_rows == 1 ? "" : "s",
		 layout->per_row > 1 ? " of several pages" : "",
		 layout->gap_h > 0 ? "" : " (too many gaps to mark them)");
	put_line(out, 70, "g", line);
	double y = 70;
	if (timeline->dropped) {
		y += 14;
		snprintf(
			line, sizeof(line),
			"The recorder kept the first %zu events (its capacity) and dropped %" PRIu64
			" later ones: the picture ends at the last event kept.",
			timeline->count, timeline->dropped);
		put_line(out, y, "note", line);
	} else if (mismatched) {
		y += 14;
		snprintf(line, sizeof(line),
			 "%" PRIu64 " page%s ended the run in another state than these events lead "
			 "to: vCPUs converted them at once, and the order recorded is not the "
			 "order the conversions took effect.",
			 mismatched, mismatched == 1 ? "" : "s");
		put_line(out, y, "note", line);
	}
	return y + 18;
}

static void put_prologue(FILE *out, const char *title, double height)
{
	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
	fprintf(out,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
		"height=\"%.0f\" viewBox=\"0 0 %d %.0f\">\n",
		WIDTH, height, WIDTH, height);
	fprintf(out, "<title>gmemvm timeline: ");
	svg_put_text(out, title);
	fprintf(out, "</title>\n<desc>Written by gmemvm run --timeline (vmm/timeline.c): a band "
		     "per touched page of guest RAM, shared or private over the run, and a marker "
		     "per memory fault, conversion, refusal and discard in the colour of its "
		     "vCPU.</desc>\n");
	fprintf(out, "<defs>\n<pattern id=\"both\" width=\"6\" height=\"6\" "
		     "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
		     "<rect width=\"6\" height=\"6\" fill=\"#cfe9c6\"/>"
		     "<rect width=\"3\" height=\"6\" fill=\"#c9bde3\"/></pattern>\n</defs>\n");
	/* Later rules win: the hollow and cross classes come after the colours. */
	fprintf(out, "<style>\n"
		     "text { font-family: DejaVu Sans, Verdana, sans-serif; font-size: 11px; "
		     "fill: #222; }\n"
		     ".title { font-size: 15px; font-weight: bold; }\n"
		     ".l { text-anchor: end; font-family: DejaVu Sans Mono, monospace; "
		     "font-size: 10px; }\n"
		     ".t { text-anchor: middle; font-size: 10px; }\n"
		     ".c { text-anchor: middle; }\n"
		     ".note { fill: #b00000; }\n"
		     ".s { fill: #cfe9c6; }\n.p { fill: #c9bde3; }\n.b { fill: url(#both); }\n"
		     ".o { fill: #f2f2f2; }\n"
		     ".gap { stroke: #888; stroke-width: 1; stroke-dasharray: 3,2; fill: none; }\n"
		     ".axis { stroke: #444; stroke-width: 1; fill: none; }\n"
		     ".k { fill: #444; stroke: #444; }\n");
	for (int v = 0; v < N_COLOURS; v++)
		fprintf(out, ".v%d { fill: %s; stroke: %s; }\n", v, vcpu_colours[v],
			vcpu_colours[v]);
	fprintf(out, ".h { fill: #fff; stroke-width: 1.3; }\n"
		     ".x { fill: none; stroke-width: 1.6; }\n"
		     "</style>\n");
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%.0f\" fill=\"#fff\"/>\n", WIDTH,
		height);
}

int timeline_write_svg(struct timeline *timeline, FILE *out, const char *title, const char *mode)
{
	pthread_mutex_lock(&timeline->lock);
	uint64_t mismatched = 0;
	struct layout layout;
	struct summary summary;
	uint8_t *grid = NULL, *start = NULL;
	bool *vcpus_seen = calloc(UINT16_MAX + 1, sizeof(bool));
	int status = -ENOMEM;
	memset(&layout, 0, sizeof(layout));
	/* Laid out from y = 0 and drawn translated below the header. */
	if (!vcpus_seen || lay_out(timeline, &layout, 0) < 0 ||
	    !(start = calloc(layout.nr_rows + 1, 1)) ||
	    !(grid = replay(timeline, &layout, start, &mismatched)))
		goto out;
	summarize(timeline, &summary, vcpus_seen);
	/* Header lines: at most one note, so its height is known before drawing. */
	double header = timeline->dropped || mismatched ? 102 : 88;
	double axis_y = layout.plot_bottom + 4;
	double legend_y = axis_y + 43 + 24;
	double height = header + legend_y + 40 + 14;

	put_prologue(out, title, height);
	draw_header(out, timeline, &layout, &summary, mismatched, title, mode);
	fprintf(out, "<g transform=\"translate(0,%.0f)\">\n", header);
	draw_bands(out, &layout, grid, start);
	draw_gpa_labels(out, &layout);
	if (layout.nr_rows == 0 && !layout.other_row)
		fprintf(out,
			"<text class=\"c\" x=\"%.1f\" y=\"%.1f\">No memory fault, conversion, "
			"refusal or discard was recorded in this run.</text>\n",
			PLOT_X + PLOT_W / 2, layout.plot_top + 24);
	if (draw_markers(out, timeline, &layout) < 0)
		goto out;
	draw_axis(out, timeline, &layout);
	draw_legend(out, legend_y, vcpus_seen);
	fprintf(out, "</g>\n</svg>\n");
	status = 0;
out:
	pthread_mutex_unlock(&timeline->lock);
	free(vcpus_seen);
	free(grid);
	free(start);
	free_layout(&layout);
	if (status < 0)
		return status;
	if (fflush(out) != 0 || ferror(out))
		return errno ? -errno : -EIO;
	return 0;
}
