from setuptools import find_packages, setup

package_name = 'pi0_recording'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=False,
    maintainer='pi0_ros maintainers',
    maintainer_email='maintainers@pi0-ros.dev',
    description=('Teleoperation for pi0_ros: leader-arm and Twist teleop sources, and the rosbag2 episode '
                 'recorder.'),
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'recorder = pi0_recording.entry_points:recorder',
            'teleop = pi0_recording.entry_points:teleop',
        ],
    },
)
