"""The six pages of the user's path: Data, Captions, Train, Blend, Try, Export."""
