"""Images in: labelled folders, image files, the decoded-image cache, loaders, transforms and captions."""
