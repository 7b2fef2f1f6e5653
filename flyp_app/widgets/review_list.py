"""The label check's findings on the Data page, to review one by one or several at once.

Five groups in one list: suspicious labels (thumbnail, file name, the folder's class, the class
the evidence points to, a score, most suspicious first), near-duplicate pairs (a pair, then its
two images), bad images (by issue: blurred, too dark…, each with its advice, then its images),
shortcuts (a concept far more common in one class: its shares, one line of advice, then the
images that carry it), and class warnings (one line of advice each). A row that stands for
several images (a pair, an issue, a shortcut) acts on all of them. The actions below act on the selected
images (a pair's row: both of its images); what was done shows in the last column, and goes
away when it is undone.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from flyp_app.words import quality_text
from flyp_app.widgets.review_actions import ReviewActions

ICON = 40
PATHS = Qt.UserRole  # an item's images: [path] or a pair's [a, b]
ACTION = Qt.UserRole + 1  # a class warning's action line: the page that opens
KINDS = {"same-class": ("same class", "the same class"),
         "cross-class": ("two classes", "two classes: one of the labels is wrong"),
         "leak": ("training and evaluation", "training and an evaluation folder: it inflates accuracy"),
         "between-evaluation": ("validation and different conditions", "two evaluation folders (validation and "
                                "different conditions): the robustness test repeats a validation image")}
COLUMNS = ["Image", "Folder's class", "Likely class", "Score", "Done"]
# What a class warning's action line opens: the page that helps (by its name), and its words.
WARNING_ACTIONS = {"few-images": ("label", "Label more images…"), "imbalance": ("label", "Label more images…"),
                   "near-chance": ("captions", "Edit the captions…")}


class ReviewList(QWidget):
    """`show_report(report, sets)` fills it; `set_thumbs({path: PNG})` adds thumbnails as they come."""

    def __init__(self, state):
        super().__init__()
        self.state = state
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setIconSize(QSize(ICON, ICON))
        self.tree.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.tree.setUniformRowHeights(False)
        self.tree.setToolTip("What the label check found. Select images (Shift or Ctrl for several), then choose "
                             "an action below.")
        self.tree.setAccessibleName("Label check results")
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeToContents)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.tree.itemClicked.connect(self._open_action)
        self.tree.itemActivated.connect(self._open_action)
        layout.addWidget(self.tree, 1)
        self.actions = ReviewActions(state, self.selected_paths)
        layout.addWidget(self.actions)
        self._images: dict[str, list[QTreeWidgetItem]] = {}  # path → the rows showing it
        self._thumbs: dict[str, QIcon] = {}
        state.images_changed.connect(self.refresh_status)

    def show_report(self, report) -> None:
        self.tree.clear()
        self._images.clear()
        self._suspicious(report)
        self._duplicates(report)
        self._bad_images(report)
        self._shortcuts(report)
        self._warnings(report)
        self.refresh_status()

    def _group(self, text: str, tip: str) -> QTreeWidgetItem:
        group = QTreeWidgetItem(self.tree, [text])
        group.setFlags(Qt.ItemIsEnabled)
        group.setToolTip(0, tip)
        font = group.font(0)
        font.setBold(True)
        group.setFont(0, font)
        group.setExpanded(True)
        group.setFirstColumnSpanned(True)
        return group

    def _image_row(self, parent: QTreeWidgetItem, path: str, label: str, likely: str = "", score: str = "",
                   tip: str = "") -> QTreeWidgetItem:
        display = self.actions.display
        row = QTreeWidgetItem(parent, [Path(path).name, display(label), display(likely) if likely else "", score, ""])
        row.setData(0, PATHS, [path])
        row.setToolTip(0, tip or path)
        row.setTextAlignment(3, Qt.AlignRight | Qt.AlignVCenter)
        if path in self._thumbs:
            row.setIcon(0, self._thumbs[path])
        self._images.setdefault(path, []).append(row)
        return row

    def _suspicious(self, report) -> None:
        kept = f"; {report.kept} kept as they are are not listed" if report.kept else ""
        note = report.ranking_note()
        group = self._group(f"Suspicious labels ({len(report.suspicious)}{kept})" + (" — a guess, not a ranking"
                                                                                    if note else ""),
                            note[:1].upper() + note[1:] + "." if note else
                            "Images whose folder the model's evidence contradicts, most suspicious first. The "
                            "score (0–1) is how little the folder's class is believed.")
        for s in report.suspicious:
            self._image_row(group, s.path, s.label, s.likely, "–" if note else s.score_text(),
                            f"{s.path}\nfiled under {self.actions.display(s.label)}; looks like "
                            f"{self.actions.display(s.likely)}")

    def _duplicates(self, report) -> None:
        group = self._group(f"Near-duplicates ({len(report.near_duplicates)})",
                            "Pairs of nearly identical images (resized, recompressed, cropped slightly)")
        for d in report.near_duplicates:
            short, long = KINDS.get(d.kind, (d.kind, d.kind))
            pair = QTreeWidgetItem(group, [f"{self._shown_path(d.a)}  ≈  {self._shown_path(d.b)}", short, "",
                                           f"{d.similarity:.3f}", ""])
            pair.setData(0, PATHS, [d.a, d.b])
            pair.setToolTip(1, f"Nearly the same picture in {long}")
            pair.setToolTip(0, f"Nearly the same picture in {long}.\n{d.a}\n{d.b}\nSelect this row to act on both "
                               "images, or one of the two below.")
            pair.setExpanded(True)
            for path in (d.a, d.b):
                self._image_row(pair, path, Path(path).parent.name)

    def _bad_images(self, report) -> None:
        from core.checks.quality import ADVICE

        group = self._group(f"Bad images ({len({q.path for q in report.quality})})",
                            "Images that are blurred, too dark or too bright, nearly uniform, very long or tiny: "
                            "select an issue's row to act on all of its images")
        by_issue: dict[str, list] = {}
        for q in report.quality:
            by_issue.setdefault(q.issue, []).append(q)
        for issue, found in by_issue.items():
            name = quality_text(issue, found[0].score)[0]
            row = self._several(group, f"{name} ({len(found)}) → {ADVICE.get(issue, '')}", [q.path for q in found])
            for q in found:
                self._image_row(row, q.path, Path(q.path).parent.name, score=quality_text(issue, q.score)[1],
                                tip=f"{q.path}\n{name}: {quality_text(issue, q.score)[1]}")

    def _shortcuts(self, report) -> None:
        group = self._group(f"Shortcuts ({len(report.shortcuts)})",
                            "Something other than the object that one class's images carry far more often than "
                            "the others' (a style, a background, a ruler, text): the model could learn it instead "
                            "of the object. Select a shortcut's row to act on all of its images.")
        for s in report.shortcuts:
            name = self.actions.display(s.class_name)
            row = self._several(group, f"‘{s.concept.replace('{}', name)}’ in {name}: "
                                       f"{s.share_in_class:.0%} of its images, {s.share_elsewhere:.0%} of the "
                                       "others'", s.images)
            advice = QTreeWidgetItem(row, [f"→ {s.advice.replace('{}', name)}"])
            advice.setFirstColumnSpanned(True)
            advice.setFlags(Qt.ItemIsEnabled)
            advice.setToolTip(0, s.advice.replace('{}', name))
            for path in s.images:
                self._image_row(row, path, s.class_name)

    def _several(self, parent: QTreeWidgetItem, text: str, paths: list[str]) -> QTreeWidgetItem:
        """A row standing for several images (listed under it): selecting it selects them all."""
        row = QTreeWidgetItem(parent, [text])
        row.setFirstColumnSpanned(True)
        row.setData(0, PATHS, list(paths))
        row.setToolTip(0, f"{text}\nSelect this row to act on its {len(paths)} image(s), or pick some below.")
        row.setExpanded(True)
        return row

    def _shown_path(self, path: str) -> str:
        """A path as the project's folder sees it (two copies often share a file name)."""
        project = self.state.project.path
        try:
            return Path(path).relative_to(Path(project).parent).as_posix() if project else path
        except ValueError:
            return path

    def _warnings(self, report) -> None:
        group = self._group(f"Class warnings ({len(report.warnings)})", "Classes that are small, imbalanced, "
                            "or hard for the model to recognise, each with what to do")
        for w in report.warnings:
            row = QTreeWidgetItem(group, [f"{w.message} → {w.advice}"])
            row.setFirstColumnSpanned(True)
            row.setFlags(Qt.ItemIsEnabled)
            row.setToolTip(0, f"{w.message}\n→ {w.advice}")
            if w.kind in WARNING_ACTIONS:
                self._warning_action(row, *WARNING_ACTIONS[w.kind])

    def _warning_action(self, row: QTreeWidgetItem, page: str, words: str) -> None:
        """A link-like line under a class warning: clicking it (or Enter) opens the page where it is fixed."""
        link = QTreeWidgetItem(row, [words])
        link.setFirstColumnSpanned(True)
        link.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
        link.setData(0, ACTION, page)
        link.setForeground(0, self.tree.palette().link())
        font = link.font(0)
        font.setUnderline(True)
        link.setFont(0, font)
        link.setToolTip(0, f"Opens the {page.capitalize()} page")
        row.setExpanded(True)

    def _open_action(self, item: QTreeWidgetItem) -> None:
        if page := item.data(0, ACTION):
            self.state.want_page(page)

    def set_thumbs(self, batch: dict[str, bytes]) -> None:
        for path, png in batch.items():
            self._thumbs[path] = icon = QIcon(QPixmap.fromImage(QImage.fromData(png)))
            for row in self._images.get(path, []):
                row.setIcon(0, icon)

    def image_paths(self) -> list[str]:
        """Every image listed (for thumbnails)."""
        return list(self._images)

    def selected_paths(self) -> list[str]:
        """The selected images not acted on yet (a pair's row stands for both of its images)."""
        paths = []
        for item in self.tree.selectedItems():
            for path in item.data(0, PATHS) or []:
                if path not in paths and not self.state.review.status(path):
                    paths.append(path)
        return paths

    def refresh_status(self) -> None:
        """Show what was done with each image (moved, left out, kept), or nothing once undone."""
        for path, rows in self._images.items():
            status = self.state.review.status(path)
            for row in rows:
                row.setText(4, status)
                for col in range(4):
                    row.setForeground(col, self.palette().placeholderText() if status else self.palette().text())
        self._selection_changed()

    def _selection_changed(self) -> None:
        self.actions.set_enabled(bool(self.selected_paths()))
