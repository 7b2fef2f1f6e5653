"""Medical and camera formats: DICOM with its own window, HEIC, multi-page TIFFs, and the skip
reasons that name the extra to install when one is missing."""

import sys

import numpy as np
import pytest
from PIL import Image

from core.data.folders import scan_folder
from core.data.images import load_rgb


def write_dicom(path, raw: np.ndarray, photometric: str = "MONOCHROME2", window=(40, 400)):
    """A CT-like slice: stored values − 1024 = Hounsfield units; the window is the file's own."""
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = SecondaryCaptureImageStorage, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = raw.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    if window:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = raw.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    assert pydicom.dcmread(path).Rows == raw.shape[0]


CT = np.array([[0, 1064, 3000], [0, 1064, 3000]])  # air, soft tissue (40 HU), bone


def test_dicom_grey_levels_come_from_the_files_own_window(tmp_path):
    write_dicom(tmp_path / "slice.dcm", CT)
    grey = np.asarray(load_rgb(tmp_path / "slice.dcm"))[..., 0]
    assert grey[0].tolist() == [0, 128, 255]  # 40 HU at the window's centre: mid grey
    write_dicom(tmp_path / "plain.dcm", CT, window=None)  # no window: stretched from min to max
    assert np.asarray(load_rgb(tmp_path / "plain.dcm"))[0, :, 0].tolist() == [0, 90, 255]
    write_dicom(tmp_path / "inverted.dcm", CT, photometric="MONOCHROME1")
    assert np.asarray(load_rgb(tmp_path / "inverted.dcm"))[0, :, 0].tolist() == [255, 127, 0]


def test_heic_photos_are_read(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / "photo.heic", format="HEIF", quality=95)
    rgb = load_rgb(tmp_path / "photo.heic")
    assert rgb.size == (40, 30) and abs(rgb.getpixel((20, 15))[0] - 200) < 12


def test_missing_extras_and_tiff_pages_are_reported_by_the_scan(tmp_path, monkeypatch):
    cls = tmp_path / "data" / "scans"
    cls.mkdir(parents=True)
    Image.new("RGB", (20, 20), (9, 9, 9)).save(cls / "ok.png")
    (cls / "slice.dcm").write_bytes(b"DICM" * 40)
    (cls / "photo.heic").write_bytes(b"\0\0\0\x18ftypheic" + b"\0" * 40)
    pages = [Image.new("RGB", (20, 20), (i * 60, 0, 0)) for i in range(3)]
    pages[0].save(cls / "stack.tif", save_all=True, append_images=pages[1:])
    monkeypatch.setitem(sys.modules, "pydicom", None)  # as if the extras were not installed
    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    scan = scan_folder(tmp_path / "data")
    reasons = {p.path.rsplit("/", 1)[-1]: p.reason for p in scan.skipped}
    assert "pip install 'flyp-studio[dicom]'" in reasons["slice.dcm"]
    assert "pip install 'flyp-studio[heic]'" in reasons["photo.heic"]
    assert sorted(s.path.name for s in scan.samples) == ["ok.png", "stack.tif"]
    assert any("stack.tif" in w.path and "3 pages" in w.reason for w in scan.warnings)
    assert load_rgb(cls / "stack.tif").getpixel((0, 0)) == (0, 0, 0)  # the first page


def test_what_the_scan_accepts_the_training_decoder_reads(tmp_path):
    """One decoder for both: a DICOM slice the scan accepts is decoded into the training store."""
    from core.data.folders import scan_folder
    from core.data.image_cache import decoded_images

    for cls in ("a", "b"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        write_dicom(tmp_path / "data" / cls / "slice.dcm", np.tile(CT, (8, 4)))
    report = scan_folder(tmp_path / "data")
    assert len(report.samples) == 2 and not report.skipped
    store = decoded_images([s.path for s in report.samples], 16)
    assert store.image(0).size[0] >= 2
