// SPDX-License-Identifier: MIT
#include "memmap_picture.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "gmemvm_abi.h"
#include "timeline.h"

/*
 * The picture's axis is guest RAM, cut at every place where something
 * changes: a run of the state, a memslot, the guest's areas. A piece's width
 * grows with the logarithm of its size, so that one 4 KiB page beside 16 MiB
 * still shows (a linear axis would make it a fraction of a pixel).
 */
#define MAX_CUTS      (4 * (MEMMAP_PICTURE_MAX_RUNS + 2 * MEMMAP_PICTURE_MAX_SLOTS) + 8)
#define WIDTH	      1100
#define LEFT	      200.0
#define AXIS_WIDTH    780.0
#define ROW_HEIGHT    26.0
#define ROW_GAP	      8.0
#define PANEL_HEADER  40.0
#define AXIS_SPACE    64.0
#define MIN_LABEL_GAP 16.0

struct axis {
	uint64_t cuts[MAX_CUTS];
	double x[MAX_CUTS];
	size_t count;
};

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void add_cut(struct axis *axis, uint64_t offset, uint64_t ram_size)
{
	if (offset <= ram_size && axis->count < MAX_CUTS)
		axis->cuts[axis->count++] = offset;
}

static void add_cuts_of(struct axis *axis, const struct memmap_snapshot *snapshot)
{
	if (!snapshot || !snapshot->taken)
		return;
	for (size_t i = 0; i < snapshot->runs_shown; i++) {
		add_cut(axis, snapshot->runs[i].start, snapshot->ram_size);
		add_cut(axis, snapshot->runs[i].end, snapshot->ram_size);
	}
	for (int v = 0; v < snapshot->nr_views; v++)
		for (size_t i = 0; i < snapshot->views[v].shown; i++) {
			const struct memmap_picture_slot *slot = &snapshot->views[v].slots[i];
			add_cut(axis, slot->offset, snapshot->ram_size);
			add_cut(axis, slot->offset + slot->size, snapshot->ram_size);
		}
}

static void build_axis(struct axis *axis, const struct memmap_snapshot *before,
		       const struct memmap_snapshot *after)
{
	uint64_t ram = before->ram_size;
	axis->count = 0;
	add_cut(axis, 0, ram);
	add_cut(axis, GMEMVM_SHARED_AREA_GPA, ram);
	add_cut(axis, GMEMVM_SHARED_AREA_GPA + GMEMVM_SHARED_AREA_SIZE, ram);
	add_cut(axis, ram, ram);
	add_cuts_of(axis, before);
	add_cuts_of(axis, after);
	qsort(axis->cuts, axis->count, sizeof(axis->cuts[0]), compare_u64);
	size_t kept = 0;
	for (size_t i = 0; i < axis->count; i++)
		if (kept == 0 || axis->cuts[i] != axis->cuts[kept - 1])
			axis->cuts[kept++] = axis->cuts[i];
	axis->count = kept;
	double total = 0, widths[MAX_CUTS] = { 0 };
	for (size_t i = 0; i + 1 < axis->count; i++) {
		uint64_t pages = (axis->cuts[i + 1] - axis->cuts[i]) / 4096;
		widths[i] = 1.0 + (pages ? 63 - __builtin_clzll(pages) : 0);
		total += widths[i];
	}
	axis->x[0] = LEFT;
	for (size_t i = 0; i + 1 < axis->count; i++)
		axis->x[i + 1] = axis->x[i] + widths[i] / total * AXIS_WIDTH;
}

/* The x of an offset: cuts are exact; anything else (a run the picture did
 * not hold) falls on the piece's left edge. */
static double x_of(const struct axis *axis, uint64_t offset)
{
	double x = axis->x[0];
	for (size_t i = 0; i < axis->count && axis->cuts[i] <= offset; i++)
		x = axis->x[i];
	return x;
}

static const char *kib(uint64_t bytes, char *out, size_t size)
{
	if (bytes % (UINT64_C(1024) * 1024) == 0)
		snprintf(out, size, "%" PRIu64 " MiB", bytes / (UINT64_C(1024) * 1024));
	else
		snprintf(out, size, "%" PRIu64 " KiB", bytes / 1024);
	return out;
}

static void rect(FILE *out, double x0, double x1, double y, const char *class, const char *tooltip,
		 const char *label)
{
	fprintf(out, "<g><rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\"/>",
		class, x0, y, x1 - x0 > 1 ? x1 - x0 - 1 : 1, ROW_HEIGHT);
	fprintf(out, "<title>");
	svg_put_text(out, tooltip);
	fprintf(out, "</title>");
	/* A label only where it fits: about 6 px a character. */
	if (label && x1 - x0 > 6.0 * (double)strlen(label) + 4) {
		fprintf(out, "<text class=\"c\" x=\"%.1f\" y=\"%.1f\">", (x0 + x1) / 2,
			y + ROW_HEIGHT / 2 + 4);
		svg_put_text(out, label);
		fprintf(out, "</text>");
	}
	fprintf(out, "</g>\n");
}

static void row_name(FILE *out, double y, const char *name, const char *detail)
{
	fprintf(out, "<text class=\"l\" x=\"%.0f\" y=\"%.1f\">", LEFT - 8, y + ROW_HEIGHT / 2);
	svg_put_text(out, name);
	fprintf(out, "</text>\n<text class=\"l d\" x=\"%.0f\" y=\"%.1f\">", LEFT - 8,
		y + ROW_HEIGHT / 2 + 11);
	svg_put_text(out, detail);
	fprintf(out, "</text>\n");
}

static void draw_state(FILE *out, const struct axis *axis, const struct memmap_snapshot *s,
		       double y)
{
	row_name(out, y, "state", "per page, as gmemvm keeps it");
	for (size_t i = 0; i < s->runs_shown; i++) {
		const struct memmap_picture_run *run = &s->runs[i];
		char tooltip[160], size[32];
		snprintf(tooltip, sizeof(tooltip), "%#" PRIx64 "+%s: %s (notes: shareability %s)",
			 run->start, kib(run->end - run->start, size, sizeof(size)),
			 run->private ? "private" : "shared", run->private ? "GUEST" : "ALL");
		rect(out, x_of(axis, run->start), x_of(axis, run->end), y, run->private ? "p" : "s",
		     tooltip, run->private ? "private" : "shared");
	}
}

static void draw_view(FILE *out, const struct axis *axis, const struct memmap_picture_view *view,
		      double y)
{
	char detail[64];
	if (view->base && !(view->base & (view->base - 1)))
		snprintf(detail, sizeof(detail), "memslots at GPA | 1 << %d",
			 63 - __builtin_clzll(view->base));
	else if (view->base)
		snprintf(detail, sizeof(detail), "memslots at GPA + %#" PRIx64, view->base);
	else
		snprintf(detail, sizeof(detail), "memslots at the GPA");
	row_name(out, y, view->role, detail);
	for (size_t i = 0; i < view->shown; i++) {
		const struct memmap_picture_slot *slot = &view->slots[i];
		char tooltip[200], size[32], label[32], backing[64];
		if (slot->guest_memfd)
			snprintf(backing, sizeof(backing),
				 "KVM_MEM_GUEST_MEMFD at guest_memfd offset %#" PRIx64,
				 slot->offset);
		else
			snprintf(backing, sizeof(backing),
				 "no guest_memfd: served from userspace_addr");
		snprintf(tooltip, sizeof(tooltip),
			 "memslot %u: GPA %#" PRIx64 "+%s, %s, userspace_addr %s", slot->slot,
			 view->base + slot->offset, kib(slot->size, size, sizeof(size)), backing,
			 slot->userspace_addr ? "set" : "NULL");
		snprintf(label, sizeof(label), "%u %s", slot->slot,
			 slot->guest_memfd ? "gmem" : "plain");
		rect(out, x_of(axis, slot->offset), x_of(axis, slot->offset + slot->size), y,
		     slot->guest_memfd ? "g" : "m", tooltip, label);
	}
	if (view->count > view->shown) {
		fprintf(out, "<text class=\"note\" x=\"%.0f\" y=\"%.1f\">+%zu memslots</text>\n",
			LEFT + AXIS_WIDTH + 6, y + ROW_HEIGHT / 2 + 4, view->count - view->shown);
	}
}

static void draw_host_view(FILE *out, const struct axis *axis, const struct memmap_snapshot *s,
			   double y)
{
	row_name(out, y, "host view", "the VMM's mmap of RAM");
	for (size_t i = 0; i < s->runs_shown; i++) {
		const struct memmap_picture_run *run = &s->runs[i];
		const char *what = run->private	       ? "a file that faults: SIGBUS"
				   : s->shared_in_gmem ? "the guest_memfd's pages"
						       : "the separate shared memfd";
		char tooltip[200], size[32];
		snprintf(tooltip, sizeof(tooltip), "%#" PRIx64 "+%s: the host view maps %s",
			 run->start, kib(run->end - run->start, size, sizeof(size)), what);
		rect(out, x_of(axis, run->start), x_of(axis, run->end), y, run->private ? "f" : "h",
		     tooltip,
		     run->private	 ? "SIGBUS"
		     : s->shared_in_gmem ? "gmem"
					 : "memfd");
	}
}

static void draw_axis(FILE *out, const struct axis *axis, double y)
{
	fprintf(out, "<path class=\"axis\" d=\"M%.0f %.1f H%.0f\"/>\n", LEFT, y, LEFT + AXIS_WIDTH);
	double last = -1e9;
	for (size_t i = 0; i < axis->count; i++) {
		bool final = i + 1 == axis->count;
		if (axis->x[i] - last < MIN_LABEL_GAP && !final)
			continue;
		if (final && axis->x[i] - last < MIN_LABEL_GAP / 2)
			continue;
		last = axis->x[i];
		fprintf(out,
			"<path class=\"axis\" d=\"M%.1f %.1f V%.1f\"/><text class=\"t\" "
			"transform=\"translate(%.1f %.1f) rotate(45)\">%#" PRIx64 "</text>\n",
			axis->x[i], y, y + 4, axis->x[i] - 2, y + 14, axis->cuts[i]);
	}
	fprintf(out, "<text x=\"%.0f\" y=\"%.1f\" class=\"l\">RAM offset</text>\n", LEFT - 8,
		y + 14);
}

static double panel_height(const struct memmap_snapshot *s)
{
	return PANEL_HEADER + (2 + s->nr_views) * (ROW_HEIGHT + ROW_GAP) + AXIS_SPACE;
}

static void draw_panel(FILE *out, const struct axis *axis, const struct memmap_snapshot *s,
		       double y)
{
	fprintf(out, "<text class=\"h2\" x=\"12\" y=\"%.1f\">", y + 22);
	svg_put_text(out, s->label);
	fprintf(out, "</text>\n");
	y += PANEL_HEADER;
	draw_state(out, axis, s, y);
	y += ROW_HEIGHT + ROW_GAP;
	for (int v = 0; v < s->nr_views; v++, y += ROW_HEIGHT + ROW_GAP)
		draw_view(out, axis, &s->views[v], y);
	draw_host_view(out, axis, s, y);
	y += ROW_HEIGHT + ROW_GAP;
	if (s->run_count > s->runs_shown)
		fprintf(out,
			"<text class=\"note\" x=\"12\" y=\"%.1f\">and %zu more runs of the "
			"state</text>\n",
			y + 30, s->run_count - s->runs_shown);
	draw_axis(out, axis, y + 2);
}

int memmap_picture_write_svg(FILE *out, const struct memmap_snapshot *before,
			     const struct memmap_snapshot *after, const char *title,
			     const char *mode)
{
	struct axis *axis = malloc(sizeof(*axis));
	if (!axis)
		return -ENOMEM;
	bool any = before->taken, both = any && after && after->taken;
	if (any)
		build_axis(axis, before, after);
	double height =
		96 + (any ? panel_height(before) : 40) + (both ? panel_height(after) : 40) + 20;
	fprintf(out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
		"viewBox=\"0 0 %d %.0f\">\n<title>gmemvm memory map: ",
		WIDTH, height, WIDTH, height);
	svg_put_text(out, title);
	fprintf(out,
		"</title>\n<desc>Written by gmemvm run --memmap (vmm/memmap_picture.c) from the "
		"run's memory map: the state of each page of guest RAM, each view's memslots and "
		"what backs them, and the VMM's own mapping, before the first vCPU ran and after "
		"the first conversion.</desc>\n<style>\n"
		"text { font-family: DejaVu Sans, Verdana, sans-serif; font-size: 11px; fill: "
		"#222; }\n.title { font-size: 15px; font-weight: bold; }\n.h2 { font-size: 13px; "
		"font-weight: bold; }\n.l { text-anchor: end; }\n.d { font-size: 9px; fill: #666; "
		"}\n.t { font-family: DejaVu Sans Mono, monospace; font-size: 9px; }\n.c { "
		"text-anchor: middle; font-size: 10px; }\n.note { fill: #b00000; }\n"
		".s { fill: #cfe9c6; }\n.p { fill: #c9bde3; }\n.g { fill: #9ecae1; }\n.m { fill: "
		"#e0e0e0; }\n.h { fill: #cfe9c6; }\n.f { fill: #f4b6b6; }\n.axis { stroke: #444; "
		"fill: none; }\n</style>\n<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%.0f\" "
		"fill=\"#fff\"/>\n<text class=\"title\" x=\"12\" y=\"24\">",
		WIDTH, height);
	svg_put_text(out, title);
	fprintf(out, " (");
	svg_put_text(out, mode);
	fprintf(out, "): the memory map</text>\n<text x=\"12\" y=\"44\">green: shared; "
		     "lavender: private; blue: a memslot bound to the guest_memfd (its number, "
		     "and its offset on hovering);</text>\n"
		     "<text x=\"12\" y=\"60\">grey: a memslot without guest_memfd, served "
		     "from its userspace_addr (which may map the guest_memfd); red: the host's "
		     "access faults (SIGBUS);</text>\n<text x=\"12\" y=\"76\">no memslot: a "
		     "guest access there exits to the VMM (the model's memory fault)</text>\n");
	double y = 86;
	if (!any) {
		/* No map was set up (a rule refused the set-up): its words instead. */
		fprintf(out, "<text class=\"h2\" x=\"12\" y=\"%.1f\">", y + 22);
		svg_put_text(out, before->label);
		fprintf(out, "</text>\n</svg>\n");
		free(axis);
		return ferror(out) ? -EIO : 0;
	}
	draw_panel(out, axis, before, y);
	y += panel_height(before);
	if (both)
		draw_panel(out, axis, after, y);
	else
		fprintf(out,
			"<text class=\"h2\" x=\"12\" y=\"%.1f\">The run converted nothing: no "
			"second picture</text>\n",
			y + 22);
	fprintf(out, "</svg>\n");
	free(axis);
	return ferror(out) ? -EIO : 0;
}
