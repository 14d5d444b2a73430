"""The main window (placeholder until the app issue lands: the views are built there)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QMainWindow, QTabWidget


class MainWindow(QMainWindow):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("gdsim — Gradient Descent Simulator")
        tabs = QTabWidget(objectName="viewTabs")
        tabs.addTab(QLabel("Surfaces view: coming soon"), "Surfaces")
        tabs.addTab(QLabel("Training view: coming soon"), "Training")
        self.setCentralWidget(tabs)
        self.resize(1280, 800)
